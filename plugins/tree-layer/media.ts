/**
 * The media types of an image in either manifest format: OCI (image-spec media-types.md) or
 * Docker v2s2 (distribution's manifest-v2-2.md). zstd layers exist only in OCI.
 */
import { OcipullError } from 'ocipull';

export type ManifestFormat = 'oci' | 'v2s2';
export type LayerCodec = 'gzip' | 'zstd' | 'none';

export const MANIFEST_FORMATS: readonly ManifestFormat[] = ['oci', 'v2s2'];
export const LAYER_CODECS: readonly LayerCodec[] = ['gzip', 'zstd', 'none'];

export const FORMAT_MEDIA_TYPES = {
  oci: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: {
      none: 'application/vnd.oci.image.layer.v1.tar',
      gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
      zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
    },
  },
  v2s2: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: {
      none: 'application/vnd.docker.image.rootfs.diff.tar',
      gzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
    },
  },
} as const;

export function checkFormat(format: string): ManifestFormat {
  if ((MANIFEST_FORMATS as readonly string[]).includes(format)) return format as ManifestFormat;
  throw new OcipullError('IMAGE_CONFIG_INVALID', `manifest format ${JSON.stringify(format)} is not known`, {
    hint: `choose one of ${MANIFEST_FORMATS.join(', ')}`,
  });
}

/** The media type of a `codec` layer in a `format` manifest; zstd in v2s2 is refused. */
export function layerMediaType(format: ManifestFormat, codec: LayerCodec): string {
  if (!(LAYER_CODECS as readonly string[]).includes(codec)) {
    throw new OcipullError(
      'LAYER_CODEC_UNSUPPORTED',
      `layer compression ${JSON.stringify(codec)} is not known`,
      {
        hint: `choose one of ${LAYER_CODECS.join(', ')}`,
      },
    );
  }
  const types = FORMAT_MEDIA_TYPES[checkFormat(format)].layer as Partial<Record<LayerCodec, string>>;
  const type = types[codec];
  if (!type) {
    throw new OcipullError('LAYER_CODEC_UNSUPPORTED', `a Docker v2s2 manifest cannot carry ${codec} layers`, {
      hint: 'use the OCI manifest format for zstd layers, or compress with gzip (or none) for v2s2',
    });
  }
  return type;
}

/** The codec a layer media type names (either format, distributable or not). */
export function codecOfLayerType(mediaType: string): LayerCodec | undefined {
  if (/[+.]gzip$/.test(mediaType)) return 'gzip';
  if (/[+.]zstd$/.test(mediaType)) return 'zstd';
  if (/\.tar$/.test(mediaType)) return 'none';
  return undefined;
}

/**
 * A base image's layer media type in `format`: the same bytes keep their digest and are only
 * relabelled (Docker foreign ↔ OCI non-distributable).
 */
export function relabelLayer(mediaType: string, format: ManifestFormat): string {
  const codec = codecOfLayerType(mediaType);
  if (!codec) {
    throw new OcipullError(
      'MEDIA_TYPE_UNSUPPORTED',
      `the base layer media type ${mediaType} is not a tar layer`,
      {
        hint: "a base image's layers must be tar layers (OCI ...layer.v1.tar[+gzip|+zstd] or Docker ...rootfs.diff.tar[.gzip])",
      },
    );
  }
  const foreign = /nondistributable|foreign/.test(mediaType);
  const type = layerMediaType(format, codec);
  if (!foreign) return type;
  return format === 'oci'
    ? type.replace('image.layer.v1', 'image.layer.nondistributable.v1')
    : type.replace('rootfs.diff', 'rootfs.foreign.diff');
}
