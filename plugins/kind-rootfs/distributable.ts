/**
 * Non-distributable layers (image-spec's deprecated `...layer.nondistributable.v1.tar*`, Docker's
 * `...rootfs.foreign.diff.tar*`): their publisher asks that they be fetched only from their
 * `urls`. They are refused unless one of those URLs starts with a prefix the user allowed
 * (`kinds.rootfs.allowUrls`); an allowed one is pulled from the source like any layer, verified
 * by its digest and diff_id.
 */
import { type Descriptor, OcipullError } from 'ocipull';

const NON_DISTRIBUTABLE =
  /^application\/vnd\.(oci\.image\.layer\.nondistributable\.v1\.tar|docker\.image\.rootfs\.foreign\.diff\.tar)/;

export function isNonDistributable(mediaType: string): boolean {
  return NON_DISTRIBUTABLE.test(mediaType);
}

/** LAYER_NOT_DISTRIBUTABLE for a non-distributable layer none of whose urls is allowed. */
export function checkDistributable(layer: Descriptor, index: number, allowUrls: readonly string[]): void {
  if (!isNonDistributable(layer.mediaType)) return;
  const urls = layer.urls ?? [];
  if (urls.some((url) => allowUrls.some((prefix) => url.startsWith(prefix)))) return;
  throw new OcipullError(
    'LAYER_NOT_DISTRIBUTABLE',
    `layer ${index} (${layer.digest}) is non-distributable (${layer.mediaType})${urls.length ? `, from ${urls.join(', ')}` : ', with no urls'}`,
    {
      hint: urls.length
        ? `to pull it anyway, allow its URLs in the config: "kinds": { "rootfs": { "allowUrls": [${JSON.stringify(urls[0])}] } } (a prefix is enough)`
        : 'a non-distributable layer without urls cannot be allowed: ask the publisher for a distributable image',
      data: { digest: layer.digest, mediaType: layer.mediaType, urls },
    },
  );
}
