/** Media types ocipull reads and writes (image-spec media-types.md, Docker schema2). */
export const MediaTypes = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerTarGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerTarZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerLayerTarGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerTarZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

export const INDEX_MEDIA_TYPES: readonly string[] = [MediaTypes.ociIndex, MediaTypes.dockerManifestList];
export const MANIFEST_MEDIA_TYPES: readonly string[] = [MediaTypes.ociManifest, MediaTypes.dockerManifest];
/** Accept list for manifest requests, most wanted first. */
export const MANIFEST_ACCEPT: readonly string[] = [...INDEX_MEDIA_TYPES, ...MANIFEST_MEDIA_TYPES];

/** The OCI empty descriptor (`{}`), as disk artifacts use for their config. */
export const EMPTY_DESCRIPTOR = Object.freeze({
  mediaType: MediaTypes.ociEmpty,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
  data: 'e30=',
});

/** Annotation keys ocipull reads. */
export const Annotations = {
  title: 'org.opencontainers.image.title',
  refName: 'org.opencontainers.image.ref.name',
  diskType: 'disktype',
} as const;

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && INDEX_MEDIA_TYPES.includes(mediaType);
}

export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && MANIFEST_MEDIA_TYPES.includes(mediaType);
}

/**
 * Layer media types that say "this is a tar": OCI `...layer.v1.tar`, `+gzip`, `+zstd` (and their
 * non-distributable forms), Docker `...rootfs.diff.tar`, `.tar.gzip`, `.tar.zstd` (and foreign).
 */
export function isTarLayerMediaType(mediaType: string): boolean {
  return /(^|\.)tar([+.](gzip|zstd))?$/.test(mediaType);
}
