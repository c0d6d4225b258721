import type { Command } from 'commander';
import { runCopy } from '../../publish/copy.js';
import type { TransportOptions } from '../../types.js';
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

/** One side of a copy: its --src- or --dest- options over the shared --creds, --tls-verify, --authfile. */
function side(
  base: TransportOptions,
  creds?: string,
  tlsVerify?: boolean,
  authfile?: string,
): TransportOptions {
  return {
    ...base,
    ...(creds === undefined ? {} : { creds }),
    ...(tlsVerify === undefined ? {} : { tlsVerify }),
    ...(authfile === undefined ? {} : { authfile }),
  };
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
    .option('-q, --quiet', 'print nothing but errors')
    .option('--json', 'print one JSON object with the result on stdout')
    .action(async (source: string, dest: string, flags: CopyFlags) => {
      context.json = Boolean(flags.json);
      const { orchestrator, log } = await context.setup(flags);
      for (const creds of [flags.srcCreds, flags.destCreds]) {
        if (creds) log.redact(creds.slice(creds.indexOf(':') + 1));
      }
      const base = orchestrator.settings.transport;
      const result = await runCopy(orchestrator, {
        source,
        destination: dest,
        all: Boolean(flags.all),
        sourceTransport: side(base, flags.srcCreds, flags.srcTlsVerify, flags.srcAuthfile),
        destinationTransport: side(base, flags.destCreds, flags.destTlsVerify, flags.destAuthfile),
        signal: context.signal,
      });
      if (flags.json) context.out(`${JSON.stringify(result)}\n`);
      else if (!flags.quiet) {
        context.out(`${result.destination.replace(/:[^:/@]+$/, '')}:${result.tag}@${result.digest}\n`);
      }
    });
}
