import { OcipullError } from '../errors/errors.js';
import type { Descriptor, ImageIndex, ImageManifest, LoadedDocument } from '../types.js';
import { digestOf, parseDigest } from './digest.js';
import { isIndexMediaType, isManifestMediaType, MANIFEST_ACCEPT } from './media-types.js';

/** Manifests and indexes larger than this are refused (the distribution spec's suggested limit). */
export const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

/** Index entries a walk over nested indexes visits at most (INDEX_TOO_LARGE past it). */
export const MAX_INDEX_ENTRIES = 10_000;

type Json = Record<string, unknown>;

/** Docker schema 1 (`application/vnd.docker.distribution.manifest.v1+json`, `+prettyjws`). */
const SCHEMA1 = /^application\/vnd\.docker\.distribution\.manifest\.v1\+(json|prettyjws)$/;

function invalid(what: string, problem: string): OcipullError {
  return new OcipullError('MANIFEST_INVALID', `${what} is not a valid OCI document: ${problem}`, {
    hint: `expected JSON with schemaVersion 2 and one of the media types ${MANIFEST_ACCEPT.join(', ')}`,
  });
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** A short, safe rendering of a hostile value for a message. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function checkPlatform(where: string, digest: string, value: unknown): void {
  if (!isPlainObject(value))
    throw invalid(where, `descriptor ${digest} has a platform that is not an object`);
  if (typeof value.architecture !== 'string' || typeof value.os !== 'string')
    throw invalid(where, `descriptor ${digest} has a platform without os and architecture`);
  for (const key of ['os.version', 'variant'] as const) {
    if (value[key] !== undefined && typeof value[key] !== 'string')
      throw invalid(where, `descriptor ${digest} has platform ${key} ${shown(value[key])}, not a string`);
  }
  for (const key of ['os.features', 'features'] as const) {
    if (value[key] !== undefined && !isStringArray(value[key]))
      throw invalid(where, `descriptor ${digest} has platform ${key} that is not an array of strings`);
  }
}

/** Inline `data`: base64 of exactly `size` bytes that hash to `digest` (image-spec descriptor.md). */
function checkData(where: string, digest: string, size: number, data: unknown): void {
  if (typeof data !== 'string')
    throw invalid(where, `descriptor ${digest} has data ${shown(data)}, not a base64 string`);
  // A base64 string is 4/3 of its bytes: one far longer than `size` is refused before decoding.
  if (data.length > Math.ceil(size / 3) * 4 || !BASE64.test(data))
    throw invalid(where, `descriptor ${digest} has data that is not the base64 of ${size} bytes`);
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length !== size)
    throw invalid(where, `descriptor ${digest} has data of ${bytes.length} bytes, but size ${size}`);
  const actual = digestOf(bytes, parseDigest(digest).algorithm);
  if (actual !== digest) throw invalid(where, `descriptor ${digest} has data that hashes to ${actual}`);
}

/**
 * Validate a descriptor object found inside a document (image-spec descriptor.md): the one check
 * every transport's documents pass through, so no field reaches the core with a type it does not
 * expect. Refusals are MANIFEST_INVALID naming the field.
 */
export function checkDescriptor(value: unknown, where: string): Descriptor {
  if (!isPlainObject(value)) throw invalid(where, 'descriptor is not an object');
  const d = value;
  if (typeof d.mediaType !== 'string' || d.mediaType === '')
    throw invalid(where, 'descriptor has no mediaType');
  if (typeof d.digest !== 'string') throw invalid(where, 'descriptor has no digest');
  parseDigest(d.digest);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw invalid(where, `descriptor ${d.digest} has size ${shown(d.size)}, not a non-negative integer`);
  }
  if (d.annotations !== undefined) {
    if (!isPlainObject(d.annotations)) {
      throw invalid(where, `descriptor ${d.digest} has annotations that are not a string map`);
    }
    for (const [key, val] of Object.entries(d.annotations)) {
      if (typeof val !== 'string')
        throw invalid(where, `annotation ${shown(key)} of ${d.digest} is not a string`);
    }
  }
  if (d.platform !== undefined) checkPlatform(where, d.digest, d.platform);
  if (d.urls !== undefined && !isStringArray(d.urls))
    throw invalid(where, `descriptor ${d.digest} has urls that are not an array of strings`);
  if (d.artifactType !== undefined && typeof d.artifactType !== 'string')
    throw invalid(where, `descriptor ${d.digest} has artifactType ${shown(d.artifactType)}, not a string`);
  if (d.data !== undefined) checkData(where, d.digest, d.size, d.data);
  return d as unknown as Descriptor;
}

/**
 * The first key that appears twice in one object of (valid) JSON text, if any. JSON.parse keeps
 * the last one silently, while another reader may keep the first: a document that means two
 * things to two readers is refused rather than guessed at.
 */
export function findDuplicateKey(text: string): string | undefined {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      const start = i;
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) {
        if (text.charCodeAt(i) === 0x5c /* \ */) i++;
      }
      const keys = stack.at(-1);
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
    } else if (ch === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (ch === 0x5b /* [ */) {
      stack.push(null);
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      stack.pop();
    } else if (ch === 0x2c /* , */) {
      expectKey = stack.at(-1) instanceof Set;
    }
  }
  return undefined;
}

/**
 * Parse a fetched index or manifest. The media type comes from the document itself, else from
 * the descriptor it was fetched by; the two must agree when both are present.
 */
export function parseDocument(
  bytes: Buffer,
  descriptor: Descriptor,
  what = descriptor.digest,
): LoadedDocument {
  if (bytes.length > MAX_DOCUMENT_BYTES) {
    throw new OcipullError(
      'MANIFEST_TOO_LARGE',
      `${what} is ${bytes.length} bytes, over the ${MAX_DOCUMENT_BYTES}-byte limit`,
    );
  }
  let parsed: unknown;
  const text = bytes.toString('utf8');
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalid(what, `not JSON (${(error as Error).message})`);
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) {
    throw invalid(what, `key ${JSON.stringify(duplicate)} appears twice in one object`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw invalid(what, 'not a JSON object');
  const doc = parsed as Json;
  const schema1 = (type: unknown) => typeof type === 'string' && SCHEMA1.test(type);
  if (doc.schemaVersion === 1 || schema1(doc.mediaType) || schema1(descriptor.mediaType)) {
    throw new OcipullError(
      'MANIFEST_SCHEMA1',
      `${what} is a Docker schema 1 manifest (${schema1(descriptor.mediaType) ? descriptor.mediaType : 'schemaVersion 1'}), a format ocipull does not read`,
      {
        hint: 'schema 1 is deprecated and unsigned in practice: copy the image as Docker v2s2 or OCI (skopeo copy --format v2s2 or --format oci) and pull that',
      },
    );
  }
  if (doc.schemaVersion !== 2)
    throw invalid(what, `schemaVersion is ${JSON.stringify(doc.schemaVersion)}, not 2`);
  const own = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const declared = descriptor.mediaType;
  if (own && declared && own !== declared && (isIndexMediaType(declared) || isManifestMediaType(declared))) {
    throw invalid(what, `document says mediaType ${own} but its descriptor says ${declared}`);
  }
  const mediaType = own ?? declared;
  const looksLikeIndex = Array.isArray(doc.manifests);
  const looksLikeManifest = typeof doc.config === 'object' && Array.isArray(doc.layers);
  if (
    isIndexMediaType(mediaType) ||
    (!isManifestMediaType(mediaType) && looksLikeIndex && !looksLikeManifest)
  ) {
    if (!looksLikeIndex) throw invalid(what, 'index has no manifests array');
    const manifests = (doc.manifests as unknown[]).map((m, i) =>
      checkDescriptor(m, `${what} manifests[${i}]`),
    );
    if (doc.subject !== undefined) checkDescriptor(doc.subject, `${what} subject`);
    const index = { ...(doc as object), manifests } as ImageIndex;
    return {
      kind: 'index',
      descriptor: { ...descriptor, mediaType: mediaType ?? descriptor.mediaType },
      index,
      bytes,
    };
  }
  if (isManifestMediaType(mediaType) || looksLikeManifest) {
    if (!looksLikeManifest) throw invalid(what, 'manifest needs a config object and a layers array');
    const config = checkDescriptor(doc.config, `${what} config`);
    const layers = (doc.layers as unknown[]).map((l, i) => checkDescriptor(l, `${what} layers[${i}]`));
    if (doc.subject !== undefined) checkDescriptor(doc.subject, `${what} subject`);
    const manifest = { ...(doc as object), config, layers } as ImageManifest;
    return {
      kind: 'manifest',
      descriptor: { ...descriptor, mediaType: mediaType ?? descriptor.mediaType },
      manifest,
      bytes,
    };
  }
  throw new OcipullError('MEDIA_TYPE_UNSUPPORTED', `${what} has media type ${JSON.stringify(mediaType)}`, {
    hint: `accepted: ${MANIFEST_ACCEPT.join(', ')}`,
  });
}
