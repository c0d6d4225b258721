import type { Command } from 'commander';
import { type MergeStrategy, Ocipull, OcipullError, type PackCodec, type PackDisk } from 'ocipull';
import { addConfigOptions, type CliContext, type CommonFlags, parseBool } from '../context.js';

interface PackFlags extends CommonFlags {
  disk: string[];
  title: string[];
  compress?: string;
  tag?: string;
  merge?: boolean;
  overwrite?: boolean;
  exitOnConflict?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** `--tls-verify`, `--creds`, `--authfile`: what a registry destination takes (as `pull`). */
export function addDestinationOptions(command: Command): Command {
  return command
    .option(
      '--tls-verify [bool]',
      'verify registry TLS certificates (--tls-verify=false for self-signed)',
      parseBool,
    )
    .option('--creds <user:password>', 'registry credentials')
    .option('--authfile <path>', 'auth file (containers auth.json / docker config.json format)')
    .option(
      '--cert-dir <dir>',
      'registry CAs (*.crt) and client certificate (*.cert + *.key) to use instead of certs.d',
    );
}

function parseDisks(values: string[], titles: string[]): PackDisk[] {
  const disks = values.map((value): PackDisk => {
    const eq = value.indexOf('=');
    if (eq <= 0 || eq === value.length - 1) {
      throw new OcipullError('PACK_INPUT_INVALID', `--disk ${JSON.stringify(value)} is not HYPERVISOR=PATH`, {
        hint: 'e.g. --disk qemu=./disk.qcow2 --disk applehv=./disk.raw',
      });
    }
    return { hypervisor: value.slice(0, eq), path: value.slice(eq + 1) };
  });
  for (const title of titles) {
    const eq = title.indexOf('=');
    const target = eq > 0 ? disks.find((d) => d.hypervisor === title.slice(0, eq)) : undefined;
    if (target) target.title = title.slice(eq + 1);
    else if (disks.length === 1) disks[0]!.title = title;
    else {
      throw new OcipullError(
        'PACK_INPUT_INVALID',
        `--title ${JSON.stringify(title)}: with several disks, name one: --title HYPERVISOR=NAME`,
      );
    }
  }
  return disks;
}

function strategyOf(flags: PackFlags): MergeStrategy {
  const chosen = [
    flags.merge && 'merge',
    flags.overwrite && 'overwrite',
    flags.exitOnConflict && 'exit-on-conflict',
  ].filter(Boolean) as MergeStrategy[];
  if (chosen.length > 1) {
    throw new OcipullError('USAGE', `--${chosen.join(' and --')} exclude each other`, {
      hint: 'choose one of --merge (default), --overwrite, --exit-on-conflict',
    });
  }
  return chosen[0] ?? 'merge';
}

export function registerPack(program: Command, context: CliContext): void {
  const command = program
    .command('pack')
    .summary('publish disk files as a machine-os index')
    .description(
      'Build the machine-os format from disk files: per disk a one-layer manifest (empty config, the compressed disk as its layer, titled podman-machine.<arch>.<hypervisor>.<format>.<codec>) listed in an index with its disktype and platform.\n' +
        'DEST is oci-dir:DIR[:TAG] or docker://REGISTRY/REPO[:TAG]. An existing tag is merged by default (entries with the same disktype, os and architecture replaced, everything else kept).',
    )
    .argument('<dest>', 'TRANSPORT:REFERENCE to publish to')
    .option(
      '--disk <hypervisor=path>',
      'a disk for a hypervisor (qemu, applehv, hyperv, wsl); repeatable',
      collect,
      [],
    )
    .option('--arch <arch>', 'architecture of the disks (amd64|x86_64, arm64|aarch64); default: this host')
    .option('--os <os>', 'operating system of the disks (default linux)')
    .option(
      '--compress <codec>',
      `codec for uncompressed disks: ${Ocipull.packCompressors.join(', ')} (default zstd); bzip2 and zip only name the codec of disks already compressed with it`,
    )
    .option(
      '--title <name>',
      'layer title instead of the default (HYPERVISOR=NAME with several disks); repeatable',
      collect,
      [],
    )
    .option('--tag <tag>', "tag to publish under (default: DEST's tag, else latest)")
    .option(
      '--merge',
      'keep what the tag holds, replacing entries with the same disktype, os and architecture (default)',
    )
    .option('--overwrite', 'replace what the tag holds')
    .option('--exit-on-conflict', 'refuse when the tag exists');
  addConfigOptions(command);
  addDestinationOptions(command);
  command
    .option('-q, --quiet', 'print nothing but errors')
    .option('--json', 'print one JSON object with the result on stdout')
    .action(async (dest: string, flags: PackFlags) => {
      context.json = Boolean(flags.json);
      const strategy = strategyOf(flags);
      const disks = parseDisks(flags.disk, flags.title);
      if (
        flags.compress !== undefined &&
        !(flags.compress in { zstd: 1, xz: 1, gzip: 1, none: 1, bzip2: 1, zip: 1 })
      ) {
        throw new OcipullError('USAGE', `--compress ${JSON.stringify(flags.compress)} is not a codec`, {
          hint: `choose one of ${Ocipull.packCompressors.join(', ')}`,
        });
      }
      const { ocipull } = await context.setup({ ...flags, arch: undefined, os: undefined });
      const result = await ocipull.pack({
        destination: dest,
        disks,
        arch: flags.arch,
        os: flags.os,
        compress: flags.compress as PackCodec | undefined,
        tag: flags.tag,
        strategy,
        signal: context.signal,
      });
      if (flags.json) context.out(`${JSON.stringify(result)}\n`);
      else if (!flags.quiet) {
        context.out(`${result.destination.replace(/:[^:/@]+$/, '')}:${result.tag}@${result.indexDigest}\n`);
      }
    });
}
