import type { Command } from 'commander';
import {
  addConfigOptions,
  addSelectionOptions,
  addTransportOptions,
  type CliContext,
  type CommonFlags,
} from '../context.js';
import { attachProgress } from '../progress.js';

interface PullFlags extends CommonFlags {
  output?: string;
}

export function registerPull(program: Command, context: CliContext): void {
  const command = program
    .command('pull')
    .summary('pull a disk image into a file')
    .description(
      'Pull the disk for one hypervisor out of an OCI index (registry or layout), verify it, decompress it and write it atomically.\n' +
        'SOURCE is TRANSPORT:REFERENCE, e.g. docker://quay.io/podman/machine-os:5.5 or oci-dir:./layout:latest;\n' +
        'without SOURCE the configured default (docker://quay.io/podman/machine-os) is pulled.',
    )
    .argument('[source]', 'TRANSPORT:REFERENCE to pull from')
    .option('--kind <name>', 'artifact kind to pull: disk (default), kernel, or one a plugin registers')
    .option('--kernel-version <version>', 'kernel kind: the kernel version (os.version) the target must have')
    .option(
      '--feature <key=value>',
      'kernel kind: a build option (os.features) the target must have; repeatable',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      '-o, --output <path>',
      "output file, or a directory for the preset's file name (default: the working directory)",
    );
  addConfigOptions(command);
  addSelectionOptions(command);
  addTransportOptions(command);
  command
    .option('--replace', 'overwrite an existing output file')
    .option('--sparse', 'write holes for zero runs (default for raw disks)')
    .option('--no-sparse', 'write every byte (for block devices)')
    .option('--progress <mode>', 'progress display: auto, plain, json, none')
    .option('-q, --quiet', 'print nothing but errors')
    .option('--json', 'print one JSON object with the result on stdout')
    .action(async (source: string | undefined, flags: PullFlags) => {
      context.json = Boolean(flags.json);
      const { ocipull, orchestrator, config } = await context.setup(flags);
      const mode = config.progress === 'auto' && flags.json ? 'none' : config.progress;
      const detach = attachProgress(orchestrator, mode, process.stderr);
      let result: Awaited<ReturnType<typeof ocipull.pull>>;
      try {
        result = await ocipull.pull({ source, output: flags.output, signal: context.signal });
      } finally {
        // Bars end (at their last value, with a newline) before anything else is printed.
        detach();
      }
      if (flags.json) {
        const { details: _details, ...stable } = result;
        context.out(`${JSON.stringify(stable)}\n`);
      } else if (!flags.quiet) {
        orchestrator.log.info(
          `${result.output}: ${orchestrator.settings.kind === 'disk' ? `${result.diskType} disk` : orchestrator.settings.kind} for ${result.platform.os}/${result.platform.architecture} from ${result.source}` +
            ` (${result.cacheHit ? 'from cache' : `${result.bytesFetched} bytes fetched`}, ${(result.durationMs / 1000).toFixed(1)} s)`,
        );
      }
    });
}
