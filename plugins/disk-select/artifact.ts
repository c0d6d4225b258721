import {
  Annotations,
  type Descriptor,
  type DiskRequest,
  type ImageManifest,
  isTarLayerMediaType,
  OcipullError,
} from 'ocipull';
import { parseTitle } from './title.js';

export interface ArtifactFacts {
  layer: Descriptor;
  title?: string;
  format?: string;
  /** Codec extension as the title writes it (`zst`). */
  codecExtension?: string;
}

/**
 * podman's rules for a disk manifest: exactly one layer, carrying the original file name in
 * `org.opencontainers.image.title`. A title-less tar layer (the older one-file tar format) is
 * accepted: the tar entry carries the name instead.
 */
export function checkArtifact(
  manifest: ImageManifest,
  where: string,
  want: DiskRequest,
  isCodecExtension?: (ext: string) => boolean,
): ArtifactFacts {
  const count = manifest.layers.length;
  if (count !== 1) {
    throw new OcipullError(
      'ARTIFACT_LAYER_COUNT',
      `disk manifest ${where} has ${count} layers; a disk artifact has exactly one`,
      {
        hint: 'the single layer must be the disk file (or a tar holding only it)',
        data: { manifest: where, layers: count },
      },
    );
  }
  const layer = manifest.layers[0]!;
  const title = layer.annotations?.[Annotations.title];
  if (title === undefined) {
    if (!want.allowMissingTitle && !isTarLayerMediaType(layer.mediaType)) {
      throw new OcipullError(
        'ARTIFACT_NO_TITLE',
        `the layer of disk manifest ${where} has no ${Annotations.title} annotation`,
        {
          hint: 'publishers set it to the original file name (podman-machine.x86_64.qemu.qcow2.zst); pass --allow-missing-title to take the codec from the bytes and the name from the preset',
        },
      );
    }
    return { layer, format: want.format };
  }
  const parsed = parseTitle(title, isCodecExtension);
  return { layer, title, format: parsed.format, codecExtension: parsed.codecExtension };
}
