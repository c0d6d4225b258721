import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT, OcipullError, printable, redactSecrets, secretsInArguments, toOcipullError } from 'ocipull';
import { COMMANDS } from './commands/index.js';
import { createContext } from './context.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function buildProgram(): Command {
  return new Command('ocipull')
    .description(
      'Pull VM disk images out of OCI registries and OCI layouts: verified, resumable, extensible by plugins.',
    )
    .version(pkg.version, '-V, --version')
    .option('--debug', 'log debug details on stderr (never credentials); also after the command')
    .option('-v, --verbose', 'same as --debug')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  ocipull pull oci-dir:examples/machine-os:latest --preset qemu -o /tmp/machine.qcow2\n' +
        '  ocipull pull docker://quay.io/podman/machine-os:5.5 --preset applehv -o ~/vm/\n' +
        '  ocipull inspect docker://quay.io/podman/machine-os:5.5\n\n' +
        'Docs: docs/cli.md, docs/configuration.md, docs/presets.md, docs/plugins.md, docs/errors.md',
    );
}

/**
 * Errors whose messages quote the user's own configuration or preset file (the issues found, a
 * parser's code frame): their line breaks are kept. Every other message is one line, whatever
 * a server or an image put in it.
 */
const OWN_LINES = new Set<string>(['CONFIG_INVALID', 'PRESET_INVALID', 'CONFIG_LOAD_FAILED']);

/** Format an error for humans (stderr) and, in JSON mode, for scripts (stdout). */
function report(
  error: OcipullError,
  json: boolean,
  scrub: (s: string) => string,
  out: (s: string) => void,
): void {
  const text = (s: string, multiline = false) => printable(scrub(s), { multiline });
  const lines = [`error [${error.code}]: ${text(error.message, OWN_LINES.has(error.code))}`];
  if (error.hint) lines.push(`  hint: ${text(error.hint)}`);
  if (error.plugin) lines.push(`  in plugin ${text(error.plugin)} (hook ${text(error.hook ?? '?')})`);
  if (process.env.OCIPULL_DEBUG_STACK && error.cause instanceof Error)
    lines.push(text(String(error.cause.stack), true));
  process.stderr.write(`${lines.join('\n')}\n`);
  if (json) out(`${scrub(JSON.stringify({ error: error.toJSON() }))}\n`);
}

/** The shell's convention: 128 + the signal's number (SIGINT 130, SIGTERM 143). */
export const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: EXIT.INTERRUPTED, SIGTERM: 143 };

/** Run the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  let interruptedBy: 'SIGINT' | 'SIGTERM' | undefined;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    // A second signal does not wait for the cleanup.
    if (interruptedBy) process.exit(SIGNAL_EXIT[signal]);
    interruptedBy = signal;
    controller.abort(new OcipullError('INTERRUPTED', `interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Everything on stdout passes the one escaping (lossless for JSON: it only touches characters
  // JSON.stringify leaves raw inside strings); text tables escape their cells before that.
  const write = (text: string) => process.stdout.write(printable(text, { multiline: true }));
  const context = createContext(controller.signal, write);
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({
    writeOut: write,
    writeErr: (s) => process.stderr.write(printable(s, { multiline: true })),
  });
  for (const register of COMMANDS) register(program, context);
  // Global --debug / -v before the subcommand count as given to it.
  program.hook('preAction', () => {
    const global = program.opts<{ debug?: boolean; verbose?: boolean }>();
    context.debug = Boolean(global.debug || global.verbose);
  });
  for (const command of program.commands) command.exitOverride();
  const secrets = secretsInArguments(argv);
  const scrub = (s: string) => redactSecrets(s, secrets);
  try {
    await program.parseAsync(argv);
    return EXIT.OK;
  } catch (caught) {
    if (caught instanceof CommanderError) {
      if (
        caught.code === 'commander.helpDisplayed' ||
        caught.code === 'commander.version' ||
        caught.code === 'commander.help'
      )
        return EXIT.OK;
      // The parser may fail before any action saw --json: look at the command line itself.
      if (context.json || argv.includes('--json'))
        write(`${JSON.stringify({ error: { code: 'USAGE', message: caught.message } })}\n`);
      return EXIT.USAGE;
    }
    // After a signal, whatever failed on the way out (a decoder killed mid-stream, an aborted
    // request) is the interrupt's doing: report the interrupt, not the plugin that noticed it.
    // (A fresh error: the abort reason itself has been passed through, and tagged by, plugins.)
    const error = interruptedBy
      ? new OcipullError('INTERRUPTED', `interrupted by ${interruptedBy}`)
      : toOcipullError(caught);
    report(error, context.json, scrub, write);
    return interruptedBy ? SIGNAL_EXIT[interruptedBy] : error.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
