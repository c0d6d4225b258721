/**
 * `GET /v2/NAME/manifests/REFERENCE` (distribution spec "Pulling manifests"): Accept list of OCI
 * index/manifest and Docker schema2 list/manifest, a 4 MiB limit, the digest checked against the
 * one asked for and against `Docker-Content-Digest`, and non-registry answers (HTML, non-JSON)
 * reported with URL, status and content type.
 */
import {
  type Descriptor,
  digestOf,
  isDigest,
  isIndexMediaType,
  isManifestMediaType,
  MANIFEST_ACCEPT,
  MAX_DOCUMENT_BYTES,
  MediaTypes,
  OcipullError,
  parseDigest,
  readAll,
} from 'ocipull';
import type { RegistryClient, RequestOptions } from './client.js';
import { isHtml, statusError, unexpectedResponse } from './errors.js';
import { discard, displayUrl, header } from './http.js';

export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
  url: string;
}

function mediaTypeOf(doc: Record<string, unknown>, contentType: string | undefined): string {
  if (typeof doc.mediaType === 'string' && doc.mediaType) return doc.mediaType;
  const type = contentType?.split(';')[0]?.trim();
  if (type && (isIndexMediaType(type) || isManifestMediaType(type))) return type;
  if (Array.isArray(doc.manifests)) return MediaTypes.ociIndex;
  return type || MediaTypes.ociManifest;
}

export async function getManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  options: Omit<RequestOptions, 'what' | 'headers'> & { what?: string; notFoundHint?: string },
): Promise<FetchedManifest> {
  const byDigest = isDigest(reference);
  const what = options.what ?? `manifest ${client.host}/${repository}${byDigest ? '@' : ':'}${reference}`;
  const response = await client.request(repository, `/v2/${repository}/manifests/${reference}`, {
    ...options,
    what,
    headers: { accept: MANIFEST_ACCEPT.join(', ') },
  });
  if (response.status !== 200) {
    throw await statusError(response, {
      what,
      notFound: byDigest ? 'MANIFEST_NOT_FOUND' : 'TAG_NOT_FOUND',
      notFoundHint: options.notFoundHint,
      credentials:
        response.status === 401 || response.status === 403
          ? await client.credentialHint(repository)
          : undefined,
    });
  }
  const contentType = header(response, 'content-type');
  if (isHtml(response)) {
    await discard(response);
    throw unexpectedResponse(response, what, 'an HTML page instead of a manifest');
  }
  const length = Number(header(response, 'content-length'));
  if (Number.isFinite(length) && length > MAX_DOCUMENT_BYTES) {
    await discard(response);
    throw new OcipullError(
      'MANIFEST_TOO_LARGE',
      `${what} is ${length} bytes, over the ${MAX_DOCUMENT_BYTES}-byte limit`,
    );
  }
  let bytes: Buffer;
  try {
    bytes = await readAll(response.body, MAX_DOCUMENT_BYTES, what);
  } finally {
    response.body.destroy();
  }
  const algorithm = byDigest ? parseDigest(reference).algorithm : 'sha256';
  const digest = digestOf(bytes, algorithm);
  if (byDigest && digest !== reference) {
    throw new OcipullError('DIGEST_MISMATCH', `${what}: the registry sent content that hashes to ${digest}`, {
      data: { expected: reference, actual: digest, url: displayUrl(response.url) },
    });
  }
  const announced = header(response, 'docker-content-digest');
  if (announced && isDigest(announced)) {
    const check =
      parseDigest(announced).algorithm === algorithm
        ? digest
        : digestOf(bytes, parseDigest(announced).algorithm);
    if (check !== announced) {
      throw new OcipullError(
        'DIGEST_MISMATCH',
        `${what}: Docker-Content-Digest says ${announced} but the content hashes to ${check}`,
        {
          data: { expected: announced, actual: check, url: displayUrl(response.url) },
        },
      );
    }
  }
  // Parsed only after the digests held: damaged bytes are DIGEST_MISMATCH, not "not JSON".
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw unexpectedResponse(response, what, 'a body that is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw unexpectedResponse(response, what, 'JSON that is not a manifest object');
  }
  const mediaType = mediaTypeOf(doc as Record<string, unknown>, contentType);
  return { descriptor: { mediaType, digest, size: bytes.length }, bytes, url: displayUrl(response.url) };
}
