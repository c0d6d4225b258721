/**
 * The machine-os artifact shapes `pack` writes (see docs/publishing.md): one one-layer manifest
 * per disk with the OCI empty config inline, its layer the compressed disk file itself, titled
 * `podman-machine.<arch>.<hypervisor>.<format>.<codec>`, and an index entry carrying `disktype`
 * and the platform in `uname -m` naming.
 */
import type { CodecRegistry } from '../codecs.js';
import { OcipullError } from '../errors/errors.js';
import { Annotations, EMPTY_DESCRIPTOR, MediaTypes } from '../oci/media-types.js';
import type { Descriptor, ImageManifest } from '../types.js';

/**
 * A codec's name in the codec registry (`zstd`, `none`, ...). Its extension, layer media type,
 * magic bytes and encoder are in its record (`CodecInfo`), registered by its plugin.
 */
export type PackCodec = string;

/** The disk format each hypervisor boots (machine-os publishes exactly these). */
export const HYPERVISOR_FORMATS: Record<string, string> = {
  qemu: 'qcow2',
  applehv: 'raw',
  libkrun: 'raw',
  hyperv: 'vhdx',
  wsl: 'tar',
};

/** The format a file name names: its last extension once the codecs' extensions are stripped. */
export function nameFormat(fileName: string, codecs: Pick<CodecRegistry, 'byExtension'>): string | undefined {
  const parts = fileName.toLowerCase().split('.');
  while (parts.length > 1 && codecs.byExtension(parts[parts.length - 1]!)) parts.pop();
  return parts.length > 1 ? parts[parts.length - 1] : undefined;
}

/** The disk format for a hypervisor, else the input file's extension (codec extension stripped). */
export function diskFormat(
  hypervisor: string,
  fileName: string,
  codecs: Pick<CodecRegistry, 'byExtension'>,
): string {
  return HYPERVISOR_FORMATS[hypervisor] ?? nameFormat(fileName, codecs) ?? 'img';
}

/** `podman-machine.x86_64.qemu.qcow2.zst`; `extension` is the codec's title extension (none for `none`). */
export function defaultTitle(arch: string, hypervisor: string, format: string, extension: string): string {
  return `podman-machine.${arch}.${hypervisor}.${format}${extension ? `.${extension}` : ''}`;
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
