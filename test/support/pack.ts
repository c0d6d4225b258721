/**
 * The fixture builder on top of the real `ocipull pack` (run as a child, like a publisher would):
 * disks grouped by architecture, one `pack` run per architecture (the first with the strategy
 * asked for, the next ones merging). The digests returned are read back independently (the layout
 * with fs + node:crypto, a registry with `skopeo inspect --raw`), not taken from pack's `--json`;
 * pack's own report must agree with them or the fixture fails.
 */
import { runCli } from './cli.js';
import { type IndependentIndex, readLayoutIndex, readRegistryIndex } from './independent.js';

export interface PackDiskInput {
  /** The hypervisor (`disktype`). */
  diskType: string;
  /** Either naming; pack writes `uname -m` naming. */
  arch: string;
  path: string;
  title?: string;
}

export interface PackFixtureOptions {
  disks: PackDiskInput[];
  /** Codec for uncompressed inputs (already compressed ones are published as they are). */
  compress?: 'zstd' | 'xz' | 'gzip' | 'none';
  tag?: string;
  strategy?: 'merge' | 'overwrite' | 'exit-on-conflict';
  creds?: string;
  tlsVerify?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface PackedFixtureDisk {
  hypervisor: string;
  platform: { os: string; architecture: string };
  title: string;
  codec: string;
  mediaType: string;
  manifestDigest: string;
  blobDigest: string;
  blobSize: number;
}

export interface PackFixture {
  destination: string;
  tag: string;
  /** Digest of the index the tag points at after the last run. */
  indexDigest: string;
  disks: PackedFixtureDisk[];
}

/** Arguments of one `ocipull pack` run. */
export function packArgs(
  dest: string,
  disks: PackDiskInput[],
  options: Omit<PackFixtureOptions, 'disks'>,
): string[] {
  const args = ['pack', dest, '--json', '--arch', disks[0]!.arch];
  for (const d of disks) {
    args.push('--disk', `${d.diskType}=${d.path}`);
    if (d.title) args.push('--title', `${d.diskType}=${d.title}`);
  }
  if (options.compress) args.push('--compress', options.compress);
  if (options.tag) args.push('--tag', options.tag);
  if (options.strategy) args.push(`--${options.strategy}`);
  if (options.creds) args.push('--creds', options.creds);
  if (options.tlsVerify !== undefined) args.push(`--tls-verify=${options.tlsVerify}`);
  return args;
}

/** Publish `disks` at `dest` (`oci-dir:DIR[:TAG]`, `docker://...`) with the real CLI. */
export async function packMachineOs(dest: string, options: PackFixtureOptions): Promise<PackFixture> {
  const byArch = new Map<string, PackDiskInput[]>();
  for (const disk of options.disks) byArch.set(disk.arch, [...(byArch.get(disk.arch) ?? []), disk]);
  let last: PackFixture | undefined;
  const disks: PackedFixtureDisk[] = [];
  for (const [i, group] of [...byArch.values()].entries()) {
    const strategy = i === 0 ? options.strategy : 'merge';
    const result = await runCli(packArgs(dest, group, { ...options, strategy }), { env: options.env });
    if (result.code !== 0) {
      throw new Error(
        `ocipull ${packArgs(dest, group, { ...options, strategy }).join(' ')} exited ${result.code}: ${result.stderr}`,
      );
    }
    const parsed = JSON.parse(result.stdout) as {
      destination: string;
      tag: string;
      indexDigest: string;
      disks: PackedFixtureDisk[];
    };
    disks.push(...parsed.disks);
    last = { destination: parsed.destination, tag: parsed.tag, indexDigest: parsed.indexDigest, disks };
  }
  if (!last) throw new Error('packMachineOs: no disks');
  const seen = await readBack(dest, last.tag, options);
  if (seen.indexDigest !== last.indexDigest)
    throw new Error(`pack --json says index ${last.indexDigest}, ${dest} holds ${seen.indexDigest}`);
  const independent = disks.map((d): PackedFixtureDisk => {
    const found = seen.disks.find((s) => s.manifestDigest === d.manifestDigest);
    if (!found || found.blobDigest !== d.blobDigest || found.blobSize !== d.blobSize)
      throw new Error(`pack --json disk ${d.manifestDigest} is not what ${dest} holds`);
    return {
      ...d,
      hypervisor: found.diskType,
      platform: { os: found.descriptor.platform?.os ?? '', architecture: found.arch },
      title: found.title,
      manifestDigest: found.manifestDigest,
      blobDigest: found.blobDigest,
      blobSize: found.blobSize,
    };
  });
  return { destination: last.destination, tag: last.tag, indexDigest: seen.indexDigest, disks: independent };
}

/** The index at `dest`, read without ocipull. */
async function readBack(dest: string, tag: string, options: PackFixtureOptions): Promise<IndependentIndex> {
  if (dest.startsWith('docker://')) {
    const last = dest.split('/').at(-1)!;
    const repo = last.includes(':') ? dest.slice(0, dest.length - last.length + last.indexOf(':')) : dest;
    return readRegistryIndex(`${repo}:${tag}`, {
      tlsVerify: options.tlsVerify ?? false,
      creds: options.creds,
    });
  }
  const layout = dest.replace(/^(oci-dir|oci):/, '').replace(/:[^:/]+$/, '');
  return readLayoutIndex(layout, tag);
}
