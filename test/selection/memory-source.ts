/**
 * An in-memory transport (`mem:NAME`) and machine-os style index builder, for selection tests
 * that need no files. The core still fetches and verifies every document through the hooks.
 */
import { Readable } from 'node:stream';
import {
  Annotations,
  type Descriptor,
  digestOf,
  EMPTY_DESCRIPTOR,
  MediaTypes,
  type Orchestrator,
  type Platform,
  type Plugin,
  type ResolveRequest,
} from 'ocipull';

export class MemoryStore {
  readonly blobs = new Map<string, Buffer>();
  readonly tags = new Map<string, Descriptor>();

  put(bytes: Buffer, mediaType: string): Descriptor {
    const digest = digestOf(bytes);
    this.blobs.set(digest, bytes);
    return { mediaType, digest, size: bytes.length };
  }

  putJson(doc: object, mediaType: string): Descriptor {
    return this.put(Buffer.from(JSON.stringify(doc)), mediaType);
  }
}

/** A transport plugin serving a MemoryStore under `mem:TAG`; records every ResolveRequest. */
export class MemoryTransport implements Plugin {
  readonly name = 'test-memory-transport';
  readonly resolved: ResolveRequest[] = [];
  constructor(
    readonly store: MemoryStore,
    readonly scheme = 'mem',
  ) {}

  apply(orchestrator: Orchestrator): void {
    orchestrator.hooks.resolve.for(this.scheme).tapPromise(this.name, async (request) => {
      this.resolved.push(request);
      const root = this.store.tags.get(request.ref.rest);
      if (!root) return { scheme: this.scheme, reference: request.ref.raw };
      return { scheme: this.scheme, reference: request.ref.raw, root };
    });
    orchestrator.hooks.fetch.for(this.scheme).tapPromise(this.name, async (request) => {
      const bytes = this.store.blobs.get(request.descriptor.digest);
      if (!bytes) return undefined;
      return {
        body: Readable.from([bytes.subarray(request.offset)]),
        offset: request.offset,
        total: bytes.length,
      };
    });
  }
}

export interface MemoryDisk {
  diskType: string;
  /** `uname -m` naming as machine-os publishes (x86_64, aarch64). */
  arch: string;
  os?: string;
  /** Layer title; `null` for none. Default `podman-machine.<arch>.<diskType>.<format>.zst`. */
  title?: string | null;
  /** Number of layers (default 1). */
  layers?: number;
  content?: Buffer;
  layerMediaType?: string;
}

export const FORMAT_OF: Record<string, string> = {
  qemu: 'qcow2',
  applehv: 'raw',
  hyperv: 'vhdx',
  wsl: 'tar',
};

/** Put a one-layer disk artifact manifest; returns its index entry (with disktype and platform). */
export function putDisk(store: MemoryStore, disk: MemoryDisk): Descriptor {
  const content = disk.content ?? Buffer.from(`disk ${disk.diskType} ${disk.arch}`);
  const title =
    disk.title === undefined
      ? `podman-machine.${disk.arch}.${disk.diskType}.${FORMAT_OF[disk.diskType] ?? 'img'}.zst`
      : disk.title;
  const layers: Descriptor[] = [];
  for (let i = 0; i < (disk.layers ?? 1); i++) {
    const layer = store.put(
      i === 0 ? content : Buffer.from(`extra ${i}`),
      disk.layerMediaType ?? 'application/zstd',
    );
    if (title !== null) layer.annotations = { [Annotations.title]: i === 0 ? title : `${title}.${i}` };
    layers.push(layer);
  }
  const manifest = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: EMPTY_DESCRIPTOR, layers };
  const descriptor = store.putJson(manifest, MediaTypes.ociManifest);
  const platform: Platform = { architecture: disk.arch, os: disk.os ?? 'linux' };
  return { ...descriptor, platform, annotations: { [Annotations.diskType]: disk.diskType } };
}

/** An ordinary container image manifest (config + one layer), as the bootable image entries are. */
export function putContainer(store: MemoryStore, arch: string): Descriptor {
  const config = store.putJson(
    { architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [] } },
    MediaTypes.ociConfig,
  );
  const layer = store.put(Buffer.from(`rootfs ${arch}`), MediaTypes.ociLayerTarGzip);
  const descriptor = store.putJson(
    { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config, layers: [layer] },
    MediaTypes.ociManifest,
  );
  return { ...descriptor, platform: { architecture: arch, os: 'linux' } };
}

export function putIndex(store: MemoryStore, manifests: Descriptor[]): Descriptor {
  return store.putJson({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }, MediaTypes.ociIndex);
}

/** What machine-os publishes: x86_64 hyperv/qemu/wsl, aarch64 applehv/hyperv/qemu/wsl, plus container images. */
export const PUBLISHED: MemoryDisk[] = [
  { diskType: 'hyperv', arch: 'x86_64' },
  { diskType: 'qemu', arch: 'x86_64' },
  { diskType: 'wsl', arch: 'x86_64' },
  { diskType: 'applehv', arch: 'aarch64' },
  { diskType: 'hyperv', arch: 'aarch64' },
  { diskType: 'qemu', arch: 'aarch64' },
  { diskType: 'wsl', arch: 'aarch64' },
];

/** A machine-os index (containers first, as published), tagged `tag`; `nested` wraps it in an outer index. */
export function putMachineOs(
  store: MemoryStore,
  tag: string,
  options: { disks?: MemoryDisk[]; nested?: boolean } = {},
): Descriptor {
  const entries = [
    putContainer(store, 'amd64'),
    putContainer(store, 'arm64'),
    ...(options.disks ?? PUBLISHED).map((d) => putDisk(store, d)),
  ];
  let root = putIndex(store, entries);
  if (options.nested) root = putIndex(store, [{ ...root, annotations: { [Annotations.refName]: tag } }]);
  store.tags.set(tag, root);
  return root;
}
