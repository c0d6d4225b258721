import type { Command } from 'commander';
import { type MergeStrategy, Ocipull, OcipullError, type PackDisk } from 'ocipull';
import { addConfigOptions, type CliContext, type CommonFlags, parseBool } from '../context.js';

interface PackFlags extends CommonFlags {
  kind?: string;
  input: string[];
  disk: string[];
  title: string[];
  compress?: string;
  tag?: string;
  merge?: boolean;
  overwrite?: boolean;
  exitOnConflict?: boolean;
  kernel?: string;
  initrd?: string;
  cmd: string[];
  env: string[];
  feature: string[];
  name?: string;
  rootfs?: string;
  base?: string;
  manifestFormat?: string;
  entrypoint: string[];
  workdir?: string;
  user?: string;
  label: string[];
  annotation: string[];
}

/** The flags only the kernel kind takes (given ones, as they are spelled). */
function kernelOnly(flags: PackFlags): string[] {
  return [
    flags.kernel !== undefined && '--kernel',
    flags.initrd !== undefined && '--initrd',
    flags.kernelVersion !== undefined && '--kernel-version',
    flags.feature.length > 0 && '--feature',
    flags.name !== undefined && '--name',
  ].filter((f): f is string => typeof f === 'string');
}

/** The flags only the rootfs kind takes (given ones). */
function rootfsOnly(flags: PackFlags): string[] {
  return [
    flags.rootfs !== undefined && '--rootfs',
    flags.base !== undefined && '--base',
    flags.manifestFormat !== undefined && '--manifest-format',
    flags.entrypoint.length > 0 && '--entrypoint',
    flags.workdir !== undefined && '--workdir',
    flags.user !== undefined && '--user',
    flags.label.length > 0 && '--label',
    flags.annotation.length > 0 && '--annotation',
  ].filter((f): f is string => typeof f === 'string');
}

/** `--rootfs DIR` and the image flags (docs/publishing.md), as the rootfs kind's `inputs`. */
function rootfsInputs(flags: PackFlags): Record<string, unknown> {
  return {
    ...(flags.rootfs !== undefined && { rootfs: flags.rootfs }),
    ...(flags.base !== undefined && { base: flags.base }),
    ...(flags.platform !== undefined && { platform: flags.platform }),
    ...(flags.manifestFormat !== undefined && { manifestFormat: flags.manifestFormat }),
    ...(flags.entrypoint.length > 0 && { entrypoint: flags.entrypoint }),
    ...(flags.cmd.length > 0 && { cmd: flags.cmd }),
    ...(flags.env.length > 0 && { env: flags.env }),
    ...(flags.workdir !== undefined && { workdir: flags.workdir }),
    ...(flags.user !== undefined && { user: flags.user }),
    ...(flags.label.length > 0 && { labels: flags.label }),
    ...(flags.annotation.length > 0 && { annotations: flags.annotation }),
  };
}

/** The kernel kind's flags (docs/kernels.md), as its `inputs`; undefined when none is given. */
function kernelInputs(flags: PackFlags): Record<string, unknown> | undefined {
  const given = kernelOnly(flags).length > 0 || flags.cmd.length + flags.env.length > 0;
  if (!given) return undefined;
  return {
    kernel: flags.kernel,
    ...(flags.initrd !== undefined && { initrd: flags.initrd }),
    platform: flags.platform,
    ...(flags.kernelVersion !== undefined && { kernelVersion: flags.kernelVersion }),
    cmd: flags.cmd,
    env: flags.env,
    features: flags.feature,
    ...(flags.name !== undefined && { name: flags.name }),
  };
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** Flags of one kind given to another are refused, naming the kind they belong to. */
function checkKindFlags(flags: PackFlags, kind: string): void {
  const kernel = kernelOnly(flags);
  if (kernel.length > 0 && kind !== 'kernel') {
    throw new OcipullError(
      'USAGE',
      `${kernel.join(', ')}: the kernel kind's inputs, not the ${kind} kind's`,
      {
        hint: 'pack a kernel package with --kind kernel (docs/kernels.md)',
      },
    );
  }
  const rootfs = rootfsOnly(flags);
  if (rootfs.length > 0 && kind !== 'rootfs') {
    throw new OcipullError(
      'USAGE',
      `${rootfs.join(', ')}: the rootfs kind's inputs, not the ${kind} kind's`,
      {
        hint: 'pack a tree as a container image with --rootfs DIR (docs/publishing.md)',
      },
    );
  }
  const shared = [flags.cmd.length > 0 && '--cmd', flags.env.length > 0 && '--env'].filter(Boolean);
  if (shared.length > 0 && kind !== 'kernel' && kind !== 'rootfs') {
    throw new OcipullError(
      'USAGE',
      `${shared.join(' and ')}: the kernel and rootfs kinds' inputs, not the ${kind} kind's`,
      {
        hint: 'pack a tree with --rootfs DIR, or a kernel package with --kind kernel',
      },
    );
  }
}

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

/** `--input NAME=VALUE` (repeatable): `inputs[NAME]` is the list of its values, in order. */
function parseInputs(values: string[]): Record<string, string[]> {
  const inputs: Record<string, string[]> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) {
      throw new OcipullError('USAGE', `--input ${JSON.stringify(value)} is not NAME=VALUE`, {
        hint: "e.g. --input file=readme.txt=./README (the names are the kind's; see docs/publishing.md)",
      });
    }
    const name = value.slice(0, eq);
    inputs[name] = [...(inputs[name] ?? []), value.slice(eq + 1)];
  }
  return inputs;
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

const COMPRESS_HELP =
  'codec for uncompressed disks (default zstd): a codec whose plugin can compress; rootfs kind: gzip (default), zstd or none';

/**
 * `--compress`'s help names the codecs that can compress and those only taken as they are, from
 * the built-in codec records (the configured ones are checked when the command runs).
 */
async function describeCompress(command: Command): Promise<void> {
  const option = command.options.find((o) => o.long === '--compress');
  if (!option) return;
  const { compressors, asIs } = await Ocipull.packCodecs();
  option.description =
    `codec for uncompressed disks: ${compressors.join(', ')} (default zstd)` +
    (asIs.length > 0
      ? `; ${asIs.join(' and ')} only name the codec of disks already compressed with it`
      : '') +
    '; rootfs kind: gzip (default), zstd (oci only) or none for the layer';
}

export function registerPack(program: Command, context: CliContext): void {
  program.hook('preSubcommand', async (_program, sub) => {
    if (sub.name() === 'pack') await describeCompress(sub);
  });
  const command = program
    .command('pack')
    .summary("publish disk files as a machine-os index (or any kind's inputs as its artifacts)")
    .description(
      'Build the machine-os format from disk files: per disk a one-layer manifest (empty config, the compressed disk as its layer, titled podman-machine.<arch>.<hypervisor>.<format>.<codec>) listed in an index with its disktype and platform.\n' +
        'DEST is oci-dir:DIR[:TAG] or docker://REGISTRY/REPO[:TAG]. An existing tag is merged by default (entries with the same disktype, os and architecture replaced, everything else kept).\n' +
        "--rootfs DIR publishes a tree as a container image (the rootfs kind): one layer of the tree, or with --base SOURCE the base's layers plus one layer of what DIR changes; OCI or, with --manifest-format v2s2, Docker media types; merged per platform.\n" +
        "--kind NAME packs through another artifact kind (default: the kind setting, disk): its inputs are given with --input NAME=VALUE; an existing tag is merged by the kind's own notion of the same target.",
    )
    .argument('<dest>', 'TRANSPORT:REFERENCE to publish to')
    .option('--kind <name>', 'artifact kind that packs (default: the kind setting, disk)')
    .option(
      '--input <name=value>',
      "an input of the kind (the disk kind's is --disk); repeatable, values of one name kept in order",
      collect,
      [],
    )
    .option('--kernel <file>', 'kernel kind: the kernel to pack')
    .option('--initrd <file>', 'kernel kind: the initrd to pack with it')
    .option(
      '--platform <platform>',
      "kernel kind: the target, e.g. qemu/x86_64; rootfs kind: OS/ARCH[/VARIANT], e.g. linux/arm64 (default: the base's, else this host)",
    )
    .option('--kernel-version <version>', 'kernel kind: the kernel version (os.version)')
    .option('--cmd <arg>', 'kernel and rootfs kinds: an argument of the config Cmd; repeatable', collect, [])
    .option(
      '--env <key=value>',
      'kernel and rootfs kinds: an environment variable (config Env); repeatable',
      collect,
      [],
    )
    .option('--feature <key=value>', 'kernel kind: a build option (os.features); repeatable', collect, [])
    .option('--name <name>', 'kernel kind: the package name (org.unikraft.image.name)')
    .option('--rootfs <dir>', 'rootfs kind (implied): the tree to publish as a container image')
    .option('--base <source>', 'rootfs kind: the image to build on (its layers kept, one diff layer added)')
    .option('--manifest-format <format>', 'rootfs kind: oci (default) or v2s2 (Docker)')
    .option(
      '--entrypoint <arg>',
      'rootfs kind: an argument of the config Entrypoint; repeatable',
      collect,
      [],
    )
    .option('--workdir <dir>', 'rootfs kind: the working directory (config WorkingDir)')
    .option('--user <user[:group]>', 'rootfs kind: the user the program runs as (config User)')
    .option('--label <key=value>', 'rootfs kind: a config label; repeatable', collect, [])
    .option(
      '--annotation <key=value>',
      'rootfs kind: a manifest annotation (oci only); repeatable',
      collect,
      [],
    )
    .option(
      '--disk <hypervisor=path>',
      'a disk for a hypervisor (qemu, applehv, hyperv, wsl); repeatable',
      collect,
      [],
    )
    .option('--arch <arch>', 'architecture of the disks (amd64|x86_64, arm64|aarch64); default: this host')
    .option('--os <os>', 'operating system of the disks (default linux)')
    .option('--compress <codec>', COMPRESS_HELP)
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
      const { ocipull, orchestrator } = await context.setup({
        ...flags,
        arch: undefined,
        os: undefined,
        platform: undefined,
        kernelVersion: undefined,
        feature: undefined,
      });
      const codecs = await ocipull.codecNames();
      if (flags.compress !== undefined && !codecs.all.includes(flags.compress)) {
        throw new OcipullError('USAGE', `--compress ${JSON.stringify(flags.compress)} is not a codec`, {
          hint: `choose one of ${codecs.compressors.join(', ')}`,
        });
      }
      const kind = flags.kind ?? (flags.rootfs !== undefined ? 'rootfs' : orchestrator.settings.kind);
      checkKindFlags(flags, kind);
      const inputs = {
        ...parseInputs(flags.input),
        ...(kind === 'kernel' && kernelInputs(flags)),
        ...(kind === 'rootfs' && rootfsInputs(flags)),
      };
      if (kind !== 'disk' && (disks.length > 0 || flags.title.length > 0)) {
        throw new OcipullError(
          'USAGE',
          `--disk and --title are the disk kind's inputs, not the ${kind} kind's`,
          {
            hint: `give the ${kind} kind its inputs with --input NAME=VALUE, or pack disks with --kind disk`,
          },
        );
      }
      const result = await ocipull.pack({
        destination: dest,
        kind,
        inputs,
        ...(kind === 'disk' && { disks }),
        arch: flags.arch,
        os: flags.os,
        compress: flags.compress,
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
