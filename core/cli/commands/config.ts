import type { Command } from 'commander';
import { printable } from 'ocipull';
import {
  addConfigOptions,
  addSelectionOptions,
  addTransportOptions,
  type CliContext,
  type CommonFlags,
} from '../context.js';

export function registerConfig(program: Command, context: CliContext): void {
  const command = program
    .command('config')
    .summary('print the resolved configuration')
    .description(
      'Print the configuration after presets, config file and flags are applied: the file it came from, the presets, the ordered plugin list and the settings.',
    );
  addConfigOptions(command);
  addSelectionOptions(command);
  addTransportOptions(command);
  command.option('--json', 'print JSON').action(async (flags: CommonFlags) => {
    context.json = Boolean(flags.json);
    const { ocipull } = await context.setup(flags);
    const report = ocipull.describeConfig();
    const settings = report.settings;
    if (flags.json) {
      context.out(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    const lines = [
      `config file: ${report.file ?? '(none found; defaults)'}`,
      `presets:     ${report.presets.map((p) => p.name).join(' → ')}`,
      'plugins (in order):',
      ...report.plugins.map(
        (p, i) =>
          `  ${i + 1}. ${printable(p.name)}${Object.keys(p.options).length ? ` ${JSON.stringify(p.options)}` : ''}  (from ${printable(p.from)})`,
      ),
      `transports:  ${report.transports.join(', ') || '(none)'}`,
      `disk types:  ${report.diskTypes.join(', ') || '(none)'}`,
      `codecs:      ${report.codecs.join(', ') || '(none)'}`,
      'settings:',
      ...Object.entries(settings).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
    ];
    context.out(`${lines.join('\n')}\n`);
  });
}
