/**
 * Shared pieces of the reliability suites: layouts built byte by byte (so they can be hostile),
 * in-process pulls with the built-in plugins, directory snapshots (to prove nothing was written
 * where it should not be) and error-code assertions.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join, relative } from 'node:path';
import {
  Annotations,
  createLogger,
  type Descriptor,
  EMPTY_DESCRIPTOR,
  type ErrorCode,
  isOcipullError,
  LayoutStore,
  type Logger,
  MediaTypes,
  Orchestrator,
  type Settings,
} from 'ocipull';
import { exists, prng, sha256File, useBuiltins } from '../support/files.js';

export const LAYOUT_PULL_PLUGINS = [
  'oci-dir',
  'disk-select',
  'unpack-blob',
  'unpack-tar',
  'codec-zstd',
  'codec-xz',
  'codec-gzip',
  'codec-bzip2',
  'codec-none',
];

/** What a docker:// pull into a cache needs. */
export const REGISTRY_PLUGINS = [
  'registry',
  'disk-select',
  'unpack-blob',
  'unpack-tar',
  'codec-zstd',
  'codec-none',
  'cache',
];

/** An orchestrator with built-in plugins loaded from dist/ (as the CLI loads them). */
export async function orchestratorWith(
  settings: Partial<Settings>,
  plugins: string[] = LAYOUT_PULL_PLUGINS,
  log: Logger = createLogger('silent'),
): Promise<Orchestrator> {
  const orchestrator = new Orchestrator({
    log,
    settings: { diskType: 'qemu', arch: 'x86_64', format: 'qcow2', ...settings },
  });
  return useBuiltins(orchestrator, plugins);
}

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export { exists, prng, sha256File };

/** Every path under `dir` (relative, sorted), with its type and size: what a failed pull must not change. */
export async function snapshot(dir: string, skip: string[] = []): Promise<string[]> {
  const out: string[] = [];
  async function walk(at: string): Promise<void> {
    for (const entry of await fsp.readdir(at, { withFileTypes: true })) {
      const full = join(at, entry.name);
      const rel = relative(dir, full);
      if (skip.some((s) => rel === s || rel.startsWith(`${s}/`))) continue;
      const stat = await fsp.lstat(full);
      const kind = entry.isDirectory() ? 'd' : entry.isSymbolicLink() ? 'l' : entry.isFile() ? 'f' : '?';
      out.push(`${kind} ${rel}${kind === 'f' ? ` ${stat.size}` : ''}`);
      if (entry.isDirectory()) await walk(full);
    }
  }
  await walk(dir);
  return out.sort();
}

/** Assert that `promise` rejects with an OcipullError of `code`; returns the error. */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: ErrorCode,
): Promise<Error & { code: string }> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    assert.ok(isOcipullError(error), `expected ${code}, got ${String((error as Error)?.stack ?? error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
  return caught as Error & { code: string };
}

export interface DiskLayoutOptions {
  /** The layer's bytes (a compressed disk, a tar, a bomb...). */
  layer: Buffer;
  layerMediaType?: string;
  /** The layer title annotation. */
  title?: string;
  /** Replace the layer descriptor written into the manifest (wrong sizes, media types). */
  layerDescriptor?(real: Descriptor): Descriptor;
  /** Raw manifest bytes instead of the generated JSON (duplicate keys, bad JSON...). */
  manifestBytes?(layer: Descriptor): Buffer;
  /** Replace the manifest's descriptor in the index (wrong size, media type...). */
  manifestDescriptor?(real: Descriptor): Descriptor;
  tag?: string;
}

export interface DiskLayout {
  dir: string;
  source: string;
  layer: Descriptor;
  manifest: Descriptor;
}

/** A flat machine-os layout (index.json → one qemu x86_64 manifest → one layer), every part replaceable. */
export async function diskLayout(dir: string, options: DiskLayoutOptions): Promise<DiskLayout> {
  const store = await LayoutStore.init(dir);
  await store.putBlob(Buffer.from('{}'), EMPTY_DESCRIPTOR);
  const info = await store.putBlob(options.layer);
  const realLayer: Descriptor = {
    mediaType: options.layerMediaType ?? 'application/zstd',
    ...info,
    annotations: { [Annotations.title]: options.title ?? 'podman-machine.x86_64.qemu.qcow2.zst' },
  };
  const layer = options.layerDescriptor ? options.layerDescriptor(realLayer) : realLayer;
  const manifestBytes = options.manifestBytes
    ? options.manifestBytes(layer)
    : Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          config: { ...EMPTY_DESCRIPTOR },
          layers: [layer],
        }),
      );
  const stored = await store.putBlob(manifestBytes);
  const realManifest: Descriptor = {
    mediaType: MediaTypes.ociManifest,
    ...stored,
    annotations: { [Annotations.diskType]: 'qemu', [Annotations.refName]: options.tag ?? 'latest' },
    platform: { architecture: 'x86_64', os: 'linux' },
  };
  const manifest = options.manifestDescriptor ? options.manifestDescriptor(realManifest) : realManifest;
  await store.setIndex({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [manifest] });
  return { dir, source: `oci-dir:${dir}:${options.tag ?? 'latest'}`, layer, manifest };
}
