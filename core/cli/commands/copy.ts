import type { Command } from 'commander';
import {
  addConfigOptions,
  addSelectionOptions,
  type CliContext,
  type CommonFlags,
  parseBool,
} from '../context.js';
import { addDestinationOptions } from './pack.js';

interface CopyFlags extends CommonFlags {
  all?: boolean;
  srcCreds?: string;
  destCreds?: string;
  srcTlsVerify?: boolean;
  destTlsVerify?: boolean;
  srcAuthfile?: string;
  destAuthfile?: string;
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
    .option('--src-creds <user:password>', 'credentials for SOURCE only (skopeo spelling)')
    .option('--dest-creds <user:password>', 'credentials for DEST only')
    .option('--src-tls-verify [bool]', 'verify TLS of SOURCE (default: --tls-verify)', parseBool)
    .option('--dest-tls-verify [bool]', 'verify TLS of DEST (default: --tls-verify)', parseBool)
    .option('--src-authfile <path>', 'auth file for SOURCE only')
    .option('--dest-authfile <path>', 'auth file for DEST only')
    .option(
      '--kind <name>',
      'artifact kind (default disk); other kinds (kernel) are copied whole, as with --all',
    )
    .option('-q, --quiet', 'print nothing but errors')
    .option('--json', 'print one JSON object with the result on stdout')
    .action(async (source: string, dest: string, flags: CopyFlags) => {
      context.json = Boolean(flags.json);
      const { ocipull, orchestrator } = await context.setup(flags);
      const result = await ocipull.copy({
        source,
        destination: dest,
        // Only the disk kind selects one manifest to copy; a package of another kind is copied whole.
        all: Boolean(flags.all) || orchestrator.settings.kind !== 'disk',
        sourceTransport: {
          creds: flags.srcCreds,
          tlsVerify: flags.srcTlsVerify,
          authfile: flags.srcAuthfile,
        },
        destinationTransport: {
          creds: flags.destCreds,
          tlsVerify: flags.destTlsVerify,
          authfile: flags.destAuthfile,
        },
        signal: context.signal,
      });
      if (flags.json) context.out(`${JSON.stringify(result)}\n`);
      else if (!flags.quiet) {
        context.out(`${result.destination.replace(/:[^:/@]+$/, '')}:${result.tag}@${result.digest}\n`);
      }
    });
}
