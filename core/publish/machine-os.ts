/**
 * The machine-os artifact shapes `pack` writes (see docs/publishing.md): one one-layer manifest
 * per disk with the OCI empty config inline, its layer the compressed disk file itself, titled
 * `podman-machine.<arch>.<hypervisor>.<format>.<codec>`, and an index entry carrying `disktype`
 * and the platform in `uname -m` naming.
 */
import { OcipullError } from '../errors/errors.js';
import { Annotations, EMPTY_DESCRIPTOR, MediaTypes } from '../oci/media-types.js';
import type { Descriptor, ImageManifest } from '../types.js';

/** Codecs a packed layer may carry: the tool's file extension, media type and magic bytes. */
export const PACK_CODECS = {
  zstd: { extension: 'zst', mediaType: 'application/zstd', magic: [0x28, 0xb5, 0x2f, 0xfd] },
  xz: { extension: 'xz', mediaType: 'application/x-xz', magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  gzip: { extension: 'gz', mediaType: 'application/gzip', magic: [0x1f, 0x8b] },
  bzip2: { extension: 'bz2', mediaType: 'application/x-bzip2', magic: [0x42, 0x5a, 0x68] },
  zip: { extension: 'zip', mediaType: 'application/zip', magic: [0x50, 0x4b, 0x03, 0x04] },
  none: { extension: '', mediaType: 'application/octet-stream', magic: [] as number[] },
} as const;

export type PackCodec = keyof typeof PACK_CODECS;

/** Codecs `pack --compress` produces (the others are only accepted as already compressed input). */
export const COMPRESSORS: readonly PackCodec[] = ['zstd', 'xz', 'gzip', 'none'];

/** The disk format each hypervisor boots (machine-os publishes exactly these). */
export const HYPERVISOR_FORMATS: Record<string, string> = {
  qemu: 'qcow2',
  applehv: 'raw',
  libkrun: 'raw',
  hyperv: 'vhdx',
  wsl: 'tar',
};

/** The codec whose magic bytes start `head`, or undefined (zip also needs the `.zip` name). */
export function codecOfBytes(head: Uint8Array, name: string): PackCodec | undefined {
  for (const [codec, info] of Object.entries(PACK_CODECS) as [PackCodec, (typeof PACK_CODECS)[PackCodec]][]) {
    if (info.magic.length === 0 || head.length < info.magic.length) continue;
    if (!info.magic.every((b, i) => head[i] === b)) continue;
    if (codec === 'zip' && !name.toLowerCase().endsWith('.zip')) continue;
    return codec;
  }
  return undefined;
}

/** The disk format for a hypervisor, else the input file's extension (codec extension stripped). */
export function diskFormat(hypervisor: string, fileName: string): string {
  const known = HYPERVISOR_FORMATS[hypervisor];
  if (known) return known;
  const parts = fileName.toLowerCase().split('.');
  const codecExts = new Set<string>(Object.values(PACK_CODECS).map((c) => c.extension));
  while (parts.length > 1 && codecExts.has(parts[parts.length - 1]!)) parts.pop();
  return parts.length > 1 ? parts[parts.length - 1]! : 'img';
}

/** `podman-machine.x86_64.qemu.qcow2.zst` (no codec extension for `none`). */
export function defaultTitle(arch: string, hypervisor: string, format: string, codec: PackCodec): string {
  const ext = PACK_CODECS[codec].extension;
  return `podman-machine.${arch}.${hypervisor}.${format}${ext ? `.${ext}` : ''}`;
}

/** A title must be a plain file name: pullers write it as one. */
export function checkTitle(title: string): string {
  if (!title || title === '.' || title === '..' || /[/\\\u0000-\u001f]/.test(title)) {
    throw new OcipullError(
      'PACK_INPUT_INVALID',
      `--title ${JSON.stringify(title)} is not a plain file name`,
      {
        hint: 'e.g. podman-machine.x86_64.qemu.qcow2.zst (no slashes)',
      },
    );
  }
  return title;
}

/** The one-layer disk manifest, serialized as it is pushed. */
export function diskManifest(layer: Descriptor, title: string): { manifest: ImageManifest; bytes: Buffer } {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { ...EMPTY_DESCRIPTOR },
    layers: [
      {
        mediaType: layer.mediaType,
        digest: layer.digest,
        size: layer.size,
        annotations: { [Annotations.title]: title },
      },
    ],
  };
  return { manifest, bytes: Buffer.from(JSON.stringify(manifest)) };
}

/** The index entry for a disk manifest: `disktype` on the descriptor, platform in `uname -m` naming. */
export function diskEntry(
  manifest: Descriptor,
  hypervisor: string,
  platform: { os: string; architecture: string },
): Descriptor {
  return {
    mediaType: MediaTypes.ociManifest,
    digest: manifest.digest,
    size: manifest.size,
    annotations: { [Annotations.diskType]: hypervisor },
    platform: { architecture: platform.architecture, os: platform.os },
  };
}
