import type { Command } from 'commander';
import { runCopy } from '../../publish/copy.js';
import { addConfigOptions, addSelectionOptions, type CliContext, type CommonFlags } from '../context.js';
import { addDestinationOptions } from './pack.js';

interface CopyFlags extends CommonFlags {
  all?: boolean;
}

export function registerCopy(program: Command, context: CliContext): void {
  const command = program
    .command('copy')
    .summary('copy an index or one disk between layouts and registries')
    .description(
      'Copy like `skopeo copy`, digests preserved: SOURCE and DEST are oci-dir:DIR[:TAG] or docker://REGISTRY/REPO[:TAG], in any direction.\n' +
        'With --all the whole index (nested indexes, container images) is copied; without, the disk chosen by --disk-type/--arch/--os (as `pull` chooses it) is copied as a single manifest.\n' +
        'Blobs the destination has are skipped, blobs in another repository of the same registry are mounted.',
    )
    .argument('<source>', 'TRANSPORT:REFERENCE to copy from')
    .argument('<dest>', 'TRANSPORT:REFERENCE to copy to (default tag latest)')
    .option('--all', 'copy the whole index, not one selected manifest');
  addConfigOptions(command);
  addSelectionOptions(command);
  addDestinationOptions(command);
  command
    .option('-q, --quiet', 'print nothing but errors')
    .option('--json', 'print one JSON object with the result on stdout')
    .action(async (source: string, dest: string, flags: CopyFlags) => {
      context.json = Boolean(flags.json);
      const { orchestrator } = await context.setup(flags);
      const result = await runCopy(orchestrator, {
        source,
        destination: dest,
        all: Boolean(flags.all),
        signal: context.signal,
      });
      if (flags.json) context.out(`${JSON.stringify(result)}\n`);
      else if (!flags.quiet) {
        context.out(`${result.destination.replace(/:[^:/@]+$/, '')}:${result.tag}@${result.digest}\n`);
      }
    });
}
