/**
 * Expected values from sources that are not ocipull: digests from `node:crypto` over the bytes,
 * layouts read with `fs` and `JSON.parse`, registry digests from the registry itself (the
 * `Docker-Content-Digest` header, checked against a hash of the bytes it served) or from
 * `skopeo inspect --raw`, and the host architecture from `process.arch`. Nothing here imports
 * ocipull, so a bug in ocipull's digest or layout code cannot make its own expectation.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { run } from './disks.js';

/** `sha256:<hex>` of the bytes, by node:crypto. */
export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** `sha256:<hex>` of a file, streamed through node:crypto. */
export async function sha256DigestOfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return `sha256:${hash.digest('hex')}`;
}

/** This host's architecture from `process.arch`, in both namings (a table here, not ocipull's). */
export function hostArchNames(): { uname: string; goarch: string } {
  const table: Record<string, { uname: string; goarch: string }> = {
    x64: { uname: 'x86_64', goarch: 'amd64' },
    arm64: { uname: 'aarch64', goarch: 'arm64' },
  };
  const names = table[process.arch];
  if (!names) throw new Error(`no table entry for process.arch ${process.arch}`);
  return names;
}

interface RawDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

/** What a machine-os index holds, read without ocipull. */
export interface IndependentDisk {
  diskType: string;
  arch: string;
  manifestDigest: string;
  blobDigest: string;
  blobSize: number;
  title: string;
  descriptor: RawDescriptor;
}

export interface IndependentIndex {
  indexDigest: string;
  disks: IndependentDisk[];
}

/** Read blob bytes and check that node:crypto agrees with the name they are stored under. */
async function layoutBlob(layoutDir: string, digest: string): Promise<Buffer> {
  const [algorithm, hex] = digest.split(':');
  const bytes = await fsp.readFile(join(layoutDir, 'blobs', algorithm!, hex!));
  if (algorithm === 'sha256' && sha256Digest(bytes) !== digest)
    throw new Error(`layout blob ${digest} hashes to ${sha256Digest(bytes)}`);
  return bytes;
}

/** Disks of a machine-os index, given a way to fetch manifest bytes by digest. */
async function disksOf(indexBytes: Buffer, manifest: (digest: string) => Promise<Buffer>) {
  const index = JSON.parse(indexBytes.toString('utf8')) as { manifests: RawDescriptor[] };
  const disks: IndependentDisk[] = [];
  for (const descriptor of index.manifests) {
    const diskType = descriptor.annotations?.disktype;
    if (!diskType) continue;
    const bytes = await manifest(descriptor.digest);
    if (sha256Digest(bytes) !== descriptor.digest || bytes.length !== descriptor.size)
      throw new Error(`manifest ${descriptor.digest}: bytes do not match the index's descriptor`);
    const layer = (JSON.parse(bytes.toString('utf8')) as { layers: RawDescriptor[] }).layers[0]!;
    disks.push({
      diskType,
      arch: descriptor.platform?.architecture ?? '',
      manifestDigest: descriptor.digest,
      blobDigest: layer.digest,
      blobSize: layer.size,
      title: layer.annotations?.['org.opencontainers.image.title'] ?? '',
      descriptor,
    });
  }
  return disks;
}

/** The machine-os index a layout tag points at (a nested index), read with fs and hashed with node:crypto. */
export async function readLayoutIndex(layoutDir: string, tag: string): Promise<IndependentIndex> {
  const top = JSON.parse(await fsp.readFile(join(layoutDir, 'index.json'), 'utf8')) as {
    manifests: RawDescriptor[];
  };
  const entry = top.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new Error(`${layoutDir}: no tag ${tag}`);
  const bytes = await layoutBlob(layoutDir, entry.digest);
  return {
    indexDigest: sha256Digest(bytes),
    disks: await disksOf(bytes, (d) => layoutBlob(layoutDir, d)),
  };
}

export interface SkopeoTarget {
  tlsVerify?: boolean;
  creds?: string;
  certDir?: string;
}

function skopeoFlags(target: SkopeoTarget): string[] {
  return [
    `--tls-verify=${target.tlsVerify ?? false}`,
    ...(target.creds ? ['--creds', target.creds] : []),
    ...(target.certDir ? ['--cert-dir', target.certDir] : []),
  ];
}

/** `skopeo inspect --raw` of a reference: the exact manifest bytes the registry serves. */
export async function skopeoRaw(ref: string, target: SkopeoTarget = {}): Promise<Buffer> {
  return Buffer.from(await run('skopeo', ['inspect', '--raw', ...skopeoFlags(target), ref]));
}

/** The machine-os index at `docker://HOST/REPO:TAG`, as skopeo reads it, hashed with node:crypto. */
export async function readRegistryIndex(ref: string, target: SkopeoTarget = {}): Promise<IndependentIndex> {
  const bytes = await skopeoRaw(ref, target);
  const repo = ref.replace(/:[^:/]+$/, '');
  return {
    indexDigest: sha256Digest(bytes),
    disks: await disksOf(bytes, (d) => skopeoRaw(`${repo}@${d}`, target)),
  };
}

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/**
 * A manifest straight from the registry's HTTP API (anonymous): its bytes, the
 * `Docker-Content-Digest` the registry sent, and node:crypto's digest of the bytes (which must agree).
 */
export async function registryManifest(
  base: string,
  repo: string,
  reference: string,
): Promise<{ bytes: Buffer; digest: string }> {
  const response = await fetch(`${base}/v2/${repo}/manifests/${reference}`, {
    headers: { accept: MANIFEST_ACCEPT },
  });
  if (response.status !== 200) throw new Error(`GET ${repo}:${reference}: ${response.status}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  const header = response.headers.get('docker-content-digest');
  if (header !== sha256Digest(bytes))
    throw new Error(`registry says ${header}, the bytes hash to ${sha256Digest(bytes)}`);
  return { bytes, digest: header };
}
