import { lstat, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { OcipullError, type PullResult } from 'ocipull';
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
  format?: string;
  size?: string;
  metadata?: string;
}

/** The flags only the rootfs kind takes (`kinds.rootfs` settings, the metadata file). */
const ROOTFS_FLAGS = [
  ['format', '--format'],
  ['size', '--size'],
  ['metadata', '--metadata'],
] as const;

/** Fail before the pull when `--metadata FILE` could not be written afterwards. */
async function checkMetadataTarget(file: string, replace: boolean): Promise<void> {
  try {
    const info = await lstat(file);
    if (!replace || !info.isFile()) {
      throw new OcipullError('OUTPUT_EXISTS', `the metadata file ${file} already exists`, {
        hint: info.isFile()
          ? 'pass --replace to overwrite it, or choose another --metadata'
          : 'choose another --metadata',
      });
    }
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error;
  }
}

/** The runtime settings as JSON, written through a temp name beside the file and renamed. */
async function writeMetadata(file: string, runtime: unknown): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(temp, `${JSON.stringify(runtime, null, 2)}\n`, { flag: 'wx', mode: 0o644 });
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw new OcipullError(
      'OUTPUT_FAILED',
      `cannot write the metadata file ${file}: ${(error as Error).message}`,
      {
        hint: 'the pulled output is in place; choose a --metadata path in a writable directory',
        cause: error,
      },
    );
  }
}

/** The rootfs kind's facts at the top of `--json` (beside the stable result's `facts`). */
function rootfsJson(result: PullResult, metadata: string | undefined): Record<string, unknown> {
  const facts = (result.facts ?? {}) as Record<string, unknown>;
  return {
    format: facts.format,
    layers: facts.layers,
    runtime: facts.runtime,
    rootless: facts.rootless,
    ...(facts.rootless && facts.format === 'tree' ? { record: `${result.output}.rootfs-record.jsonl` } : {}),
    ...(metadata ? { metadata } : {}),
  };
}

export function registerPull(program: Command, context: CliContext): void {
  const command = program
    .command('pull')
    .summary('pull a disk image into a file (or, by --kind, a kernel package or a root filesystem)')
    .description(
      'Pull the disk for one hypervisor out of an OCI index (registry or layout), verify it, decompress it and write it atomically.\n' +
        '--kind rootfs: apply a container image into a tree at -o (or --format tar|ext4|erofs: a file), also without root.\n' +
        'SOURCE is TRANSPORT:REFERENCE, e.g. docker://quay.io/podman/machine-os:5.5 or oci-dir:./layout:latest;\n' +
        'without SOURCE the configured default (docker://quay.io/podman/machine-os) is pulled.',
    )
    .argument('[source]', 'TRANSPORT:REFERENCE to pull from')
    .option(
      '--kind <name>',
      'artifact kind to pull: disk (default), kernel, rootfs, or one a plugin registers',
    )
    .option('--kernel-version <version>', 'kernel kind: the kernel version (os.version) the target must have')
    .option(
      '--feature <key=value>',
      'kernel kind: a build option (os.features) the target must have; repeatable',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      '--format <format>',
      'rootfs kind: tree (a directory, default), tar, ext4 or erofs (a file made from the tree)',
    )
    .option(
      '--size <size>',
      'rootfs kind, ext4/erofs: disk size (512M, 2G; default: the content plus headroom)',
    )
    .option(
      '--metadata <file>',
      "rootfs kind: write the image's runtime settings (entrypoint, env, ...) as JSON",
    )
    .option(
      '-o, --output <path>',
      "output file (rootfs: the tree or file itself), or DIR/ for the kind's own name (default: the working directory)",
    );
  addConfigOptions(command);
  addSelectionOptions(command);
  addTransportOptions(command);
  command
    .option('--replace', 'overwrite an existing output (a file, or the rootfs tree)')
    .option('--sparse', 'write holes for zero runs (default for raw disks)')
    .option('--no-sparse', 'write every byte (for block devices)')
    .option('--progress <mode>', 'progress display: auto, plain, json, none')
    .option('-q, --quiet', 'print nothing but errors')
    .option('--json', 'print one JSON object with the result on stdout')
    .action(async (source: string | undefined, flags: PullFlags) => {
      context.json = Boolean(flags.json);
      const rootfs = {
        ...(flags.format === undefined ? {} : { format: flags.format }),
        ...(flags.size === undefined ? {} : { size: flags.size }),
      };
      const { ocipull, orchestrator, config } = await context.setup(
        flags,
        Object.keys(rootfs).length ? { kinds: { rootfs } } : undefined,
      );
      const kind = orchestrator.settings.kind;
      const foreign = ROOTFS_FLAGS.find(([key]) => flags[key] !== undefined);
      if (kind !== 'rootfs' && foreign) {
        throw new OcipullError(
          'ROOTFS_OPTION_INVALID',
          `${foreign[1]} is a flag of the rootfs kind, and this pull is of kind ${kind}`,
          {
            hint:
              foreign[0] === 'format'
                ? `add --kind rootfs to pull a container image as tree, tar, ext4 or erofs; the ${kind} kind's format comes from its preset (the \`format\` config key)`
                : 'add --kind rootfs to pull a container image as a root filesystem',
          },
        );
      }
      const metadata = flags.metadata === undefined ? undefined : resolve(flags.metadata);
      if (metadata) await checkMetadataTarget(metadata, orchestrator.settings.replace);
      const mode = config.progress === 'auto' && flags.json ? 'none' : config.progress;
      const detach = attachProgress(orchestrator, mode, process.stderr);
      let result: Awaited<ReturnType<typeof ocipull.pull>>;
      try {
        result = await ocipull.pull({ source, output: flags.output, signal: context.signal });
      } finally {
        // Bars end (at their last value, with a newline) before anything else is printed.
        detach();
      }
      const facts = (result.facts ?? {}) as Record<string, unknown>;
      // Written only once the pull succeeded: a failed pull leaves no metadata behind either.
      if (metadata) await writeMetadata(metadata, facts.runtime ?? {});
      if (flags.json) {
        const { details: _details, ...stable } = result;
        const extra = kind === 'rootfs' ? rootfsJson(result, metadata) : {};
        context.out(`${JSON.stringify({ ...stable, ...extra })}\n`);
      } else if (!flags.quiet) {
        const what =
          kind === 'disk'
            ? `${result.diskType} disk`
            : kind === 'rootfs'
              ? `rootfs ${String(facts.format)} of ${String(facts.layers)} layer${facts.layers === 1 ? '' : 's'}`
              : kind;
        orchestrator.log.info(
          `${result.output}: ${what} for ${result.platform.os}/${result.platform.architecture} from ${result.source}` +
            ` (${result.cacheHit ? 'from cache' : `${result.bytesFetched} bytes fetched`}, ${(result.durationMs / 1000).toFixed(1)} s)`,
        );
      }
    });
}
