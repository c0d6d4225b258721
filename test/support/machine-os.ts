/**
 * Build OCI layouts in exactly the machine-os form (see MACHINE-OS-FORMAT.md) from compressed
 * disk files, with the real LayoutStore. Deterministic: the same inputs give the same digests.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  Annotations,
  type Descriptor,
  EMPTY_DESCRIPTOR,
  type ImageIndex,
  LayoutStore,
  MediaTypes,
} from 'ocipull';
import { readLayoutIndex, sha256Digest, sha256DigestOfFile } from './independent.js';
import { packMachineOs } from './pack.js';
import { tarOfFiles } from './tar.js';

export type MachineArch = 'x86_64' | 'aarch64';

export interface DiskEntry {
  /** The hypervisor: qemu, applehv, hyperv, wsl. */
  diskType: string;
  arch: MachineArch;
  /** The (compressed) disk file: the layer's bytes. */
  path: string;
  /** Layer title; default `podman-machine.<arch>.<diskType>.<format>.<codec ext>`. */
  title?: string;
  /** Layer media type; default from the file's extension (`application/zstd` for `.zst`). */
  mediaType?: string;
  /** Leave the title annotation out. */
  noTitle?: boolean;
}

export interface MachineOsOptions {
  tag?: string;
  disks: DiskEntry[];
  /** Add amd64/arm64 bootable-container entries (no disktype) with small real gzip layers. */
  containerImages?: boolean;
  /** The tag points at an image index (as `skopeo copy --all` writes); otherwise index.json is the index. */
  nested?: boolean;
  /** Seed 001's format: the layer is a tar (gzip when 'gzip') holding the disk file under its title. */
  oneFileTar?: boolean | 'gzip';
  /**
   * `pack`: publish the disks with the real `ocipull pack` (nested layouts only; container images
   * are written first and pack merges into them). Default: `pack` for every tagged layout pack can
   * write, `store` (the LayoutStore directly) for the shapes pack refuses to make (untitled layers,
   * one-file tars, odd media types, flat layouts) or when OCIPULL_FIXTURE_BUILDER=store.
   */
  builder?: 'store' | 'pack';
}

export interface BuiltDisk {
  diskType: string;
  arch: MachineArch;
  manifestDigest: string;
  blobDigest: string;
  blobSize: number;
  title: string;
  /** The manifest's descriptor as listed in the machine-os index. */
  descriptor: Descriptor;
}

export interface MachineOsLayout {
  layoutDir: string;
  /** Digest of the machine-os index: a blob when nested, the bytes of index.json otherwise. */
  indexDigest: string;
  disks: BuiltDisk[];
}

const FORMATS: Record<string, string> = {
  qemu: 'qcow2',
  applehv: 'raw',
  libkrun: 'raw',
  hyperv: 'vhdx',
  wsl: 'tar',
};
const CODEC_MEDIA: Record<string, string> = {
  zst: 'application/zstd',
  xz: 'application/x-xz',
  gz: 'application/gzip',
  bz2: 'application/x-bzip2',
  zip: 'application/zip',
};

function codecExtension(path: string): string | undefined {
  const ext = /\.([a-z0-9]+)$/.exec(basename(path))?.[1];
  return ext && ext in CODEC_MEDIA ? ext : undefined;
}

function defaultTitle(disk: DiskEntry): string {
  const ext = codecExtension(disk.path);
  const format = FORMATS[disk.diskType] ?? 'img';
  return `podman-machine.${disk.arch}.${disk.diskType}.${format}${ext ? `.${ext}` : ''}`;
}

function gzip(bytes: Buffer): Buffer {
  // node's gzip header has no name and mtime 0: deterministic.
  return gzipSync(bytes, { level: 6 });
}

async function diskLayer(
  store: LayoutStore,
  disk: DiskEntry,
  title: string,
  options: MachineOsOptions,
): Promise<Descriptor> {
  if (options.oneFileTar) {
    const tarred = await tarOfFiles([{ name: title, data: await fsp.readFile(disk.path) }]);
    const gz = options.oneFileTar === 'gzip';
    const bytes = gz ? gzip(tarred) : tarred;
    const info = await store.putBlob(bytes);
    return {
      mediaType: disk.mediaType ?? (gz ? MediaTypes.ociLayerTarGzip : MediaTypes.ociLayerTar),
      ...info,
    };
  }
  const info = await store.putBlob(createReadStream(disk.path));
  const ext = codecExtension(disk.path);
  return { mediaType: disk.mediaType ?? (ext ? CODEC_MEDIA[ext]! : 'application/octet-stream'), ...info };
}

async function containerImage(store: LayoutStore, arch: 'amd64' | 'arm64'): Promise<Descriptor> {
  const tarred = await tarOfFiles([
    { name: 'etc/os-release', data: Buffer.from(`ID=ocipull-test\nARCH=${arch}\n`) },
  ]);
  const layer = await store.putBlob(gzip(tarred));
  const diffId = sha256Digest(tarred);
  const config = await store.putJson(
    {
      architecture: arch,
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [],
    },
    MediaTypes.ociConfig,
  );
  const manifest = await store.putJson(
    {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config,
      layers: [{ mediaType: MediaTypes.ociLayerTarGzip, ...layer }],
    },
    MediaTypes.ociManifest,
  );
  return { ...manifest, platform: { architecture: arch, os: 'linux' } };
}

/** Whether `ocipull pack` writes this layout (nested, one-layer disks with default media types and titles). */
export function packable(options: MachineOsOptions): boolean {
  return Boolean(
    options.nested && !options.oneFileTar && options.disks.every((d) => !d.noTitle && !d.mediaType),
  );
}

/** The same layout, written by the real `ocipull pack` (see test/support/pack.ts). */
async function buildWithPack(dir: string, options: MachineOsOptions): Promise<MachineOsLayout> {
  if (!packable(options)) throw new Error('buildMachineOsLayout: pack writes nested one-layer layouts only');
  const tag = options.tag ?? 'latest';
  const store = await LayoutStore.init(dir);
  if (options.containerImages) {
    const entries = [await containerImage(store, 'amd64'), await containerImage(store, 'arm64')];
    const index = await store.putJson(
      { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: entries },
      MediaTypes.ociIndex,
    );
    await store.addManifest(index, { tag });
  }
  const packed = await packMachineOs(`oci-dir:${dir}:${tag}`, {
    disks: options.disks.map((d) => ({ diskType: d.diskType, arch: d.arch, path: d.path, title: d.title })),
    strategy: 'merge',
  });
  // Read back with fs + node:crypto (packMachineOs has already checked pack's --json against it).
  const seen = await readLayoutIndex(dir, tag);
  const disks = packed.disks.map((p): BuiltDisk => {
    const found = seen.disks.find((d) => d.manifestDigest === p.manifestDigest)!;
    return {
      diskType: found.diskType,
      arch: found.arch as MachineArch,
      manifestDigest: found.manifestDigest,
      blobDigest: found.blobDigest,
      blobSize: found.blobSize,
      title: found.title,
      descriptor: found.descriptor as Descriptor,
    };
  });
  return { layoutDir: dir, indexDigest: seen.indexDigest, disks };
}

/** Every digest a store-built layout reports, recomputed with node:crypto over the files written. */
async function checkIndependently(layout: MachineOsLayout): Promise<MachineOsLayout> {
  const blob = (digest: string) => join(layout.layoutDir, 'blobs', 'sha256', digest.slice(7));
  for (const disk of layout.disks) {
    for (const digest of [disk.manifestDigest, disk.blobDigest]) {
      const actual = await sha256DigestOfFile(blob(digest));
      if (actual !== digest) throw new Error(`fixture blob ${digest} hashes to ${actual}`);
    }
  }
  return layout;
}

/** Write a machine-os layout into `dir` (created if needed). */
export async function buildMachineOsLayout(dir: string, options: MachineOsOptions): Promise<MachineOsLayout> {
  const builder =
    options.builder ??
    (process.env.OCIPULL_FIXTURE_BUILDER !== 'store' && packable(options) && options.tag !== undefined
      ? 'pack'
      : 'store');
  if (builder === 'pack') return buildWithPack(dir, options);
  const store = await LayoutStore.init(dir);
  // The config is inline (`data: e30=`), but skopeo and umoci read it from blobs/ regardless.
  await store.putBlob(Buffer.from('{}'), EMPTY_DESCRIPTOR);
  const entries: Descriptor[] = [];
  const disks: BuiltDisk[] = [];
  if (options.containerImages) {
    entries.push(await containerImage(store, 'amd64'), await containerImage(store, 'arm64'));
  }
  for (const disk of options.disks) {
    const title = disk.title ?? defaultTitle(disk);
    const layer = await diskLayer(store, disk, title, options);
    const layerDescriptor: Descriptor = disk.noTitle
      ? layer
      : { ...layer, annotations: { [Annotations.title]: title } };
    const manifest = await store.putJson(
      {
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { ...EMPTY_DESCRIPTOR },
        layers: [layerDescriptor],
      },
      MediaTypes.ociManifest,
    );
    const descriptor: Descriptor = {
      ...manifest,
      annotations: { [Annotations.diskType]: disk.diskType },
      platform: { architecture: disk.arch, os: 'linux' },
    };
    entries.push(descriptor);
    disks.push({
      diskType: disk.diskType,
      arch: disk.arch,
      manifestDigest: manifest.digest,
      blobDigest: layer.digest,
      blobSize: layer.size,
      title,
      descriptor,
    });
  }
  if (options.nested) {
    const index = await store.putJson(
      { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: entries },
      MediaTypes.ociIndex,
    );
    await store.addManifest(index, options.tag === undefined ? {} : { tag: options.tag });
    const indexDigest = await sha256DigestOfFile(join(dir, 'blobs', 'sha256', index.digest.slice(7)));
    return checkIndependently({ layoutDir: dir, indexDigest, disks });
  }
  const tag = options.tag;
  const top: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: entries.map((e) =>
      tag === undefined ? e : { ...e, annotations: { ...e.annotations, [Annotations.refName]: tag } },
    ),
  };
  await store.setIndex(top);
  const indexDigest = sha256Digest(await fsp.readFile(join(dir, 'index.json')));
  return checkIndependently({ layoutDir: dir, indexDigest, disks });
}
