/**
 * Reading an OCI image layout (image-spec image-layout.md): the `oci-layout` marker, `index.json`
 * and the content-addressed `blobs/<alg>/<hex>` tree. Shared by the oci-dir transport, the
 * layout store and anything else that reads layouts.
 */
import { promises as fsp } from 'node:fs';
import nodePath, { join, type PlatformPath } from 'node:path';
import { OcipullError } from '../errors/errors.js';
import { parseDigest } from '../oci/digest.js';
import { checkDescriptor, findDuplicateKey, MAX_DOCUMENT_BYTES } from '../oci/documents.js';
import { Annotations } from '../oci/media-types.js';
import type { Descriptor, ImageIndex } from '../types.js';
import { readLayoutFile } from './files.js';

/** The only layout version defined by the image spec. */
export const LAYOUT_VERSION = '1.0.0';
export const LAYOUT_FILE = 'oci-layout';
export const INDEX_FILE = 'index.json';

const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

function errno(error: unknown): string | undefined {
  return (error as { code?: string })?.code;
}

/** Refuse tags that are not plain tag names (`../x`, `a/b`, empty, too long). */
export function checkTag(tag: string): string {
  if (!TAG_PATTERN.test(tag)) {
    throw new OcipullError('TAG_INVALID', `${JSON.stringify(tag)} is not a valid tag`, {
      hint: 'a tag is 1-128 characters of [A-Za-z0-9_.-] starting with a letter, digit or _ (no / or ..)',
    });
  }
  return tag;
}

/** Path of a blob inside a layout; the digest is validated first, so it can never escape `blobs/`. */
export function layoutBlobPath(dir: string, digest: string, p: PlatformPath = nodePath): string {
  const { algorithm, hex } = parseDigest(digest);
  return p.join(dir, 'blobs', algorithm, hex);
}

/** An `oci-layout` file is a few bytes of JSON; anything much larger is not one. */
const MAX_LAYOUT_FILE_BYTES = 64 * 1024;

/** LAYOUT_MISSING for a layout without `oci-layout`: the directory itself missing is said so. */
async function layoutMissing(dir: string, cause: unknown): Promise<OcipullError> {
  const hint =
    'point at a directory written by `skopeo copy ... oci:DIR` or `ocipull pack` (it holds oci-layout, index.json and blobs/)';
  const stat = await fsp.stat(dir).catch((error: unknown) => error as Error);
  if (stat instanceof Error) {
    return new OcipullError(
      'LAYOUT_MISSING',
      errno(stat) === 'ENOENT' || errno(stat) === 'ENOTDIR'
        ? `layout directory ${dir} does not exist`
        : `cannot open layout directory ${dir}: ${stat.message}`,
      { hint, cause, data: { path: dir } },
    );
  }
  if (!stat.isDirectory()) {
    return new OcipullError('LAYOUT_MISSING', `${dir} is not a directory, so not an OCI image layout`, {
      hint,
      cause,
      data: { path: dir },
    });
  }
  return new OcipullError(
    'LAYOUT_MISSING',
    `${dir} is not an OCI image layout: it has no ${LAYOUT_FILE} file`,
    { hint, cause, data: { path: dir } },
  );
}

/** Check the `oci-layout` marker: LAYOUT_MISSING when absent, LAYOUT_VERSION_UNSUPPORTED when not 1.0.0. */
export async function checkLayoutVersion(dir: string): Promise<void> {
  const path = join(dir, LAYOUT_FILE);
  let text: string;
  try {
    const bytes = await readLayoutFile(dir, path, 'layout marker', MAX_LAYOUT_FILE_BYTES, (size) => {
      return new OcipullError(
        'LAYOUT_VERSION_UNSUPPORTED',
        `${path} is ${size} bytes; an oci-layout file is a small JSON object`,
        { hint: `only {"imageLayoutVersion": "${LAYOUT_VERSION}"} layouts are read` },
      );
    });
    text = bytes.toString('utf8');
  } catch (error) {
    if (error instanceof OcipullError) throw error;
    const code = errno(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw await layoutMissing(dir, error);
    throw new OcipullError('LAYOUT_MISSING', `cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let version: unknown;
  try {
    version = (JSON.parse(text) as { imageLayoutVersion?: unknown })?.imageLayoutVersion;
  } catch {
    version = undefined;
  }
  if (version !== LAYOUT_VERSION) {
    throw new OcipullError(
      'LAYOUT_VERSION_UNSUPPORTED',
      `${path} declares imageLayoutVersion ${JSON.stringify(typeof version === 'string' ? version.slice(0, 64) : (version ?? null))}`,
      { hint: `only {"imageLayoutVersion": "${LAYOUT_VERSION}"} layouts are read` },
    );
  }
}

function indexInvalid(dir: string, problem: string, cause?: unknown): OcipullError {
  return new OcipullError('LAYOUT_INDEX_INVALID', `${join(dir, INDEX_FILE)} ${problem}`, {
    hint: 'index.json must be an OCI image index: {"schemaVersion": 2, "manifests": [descriptors]}',
    cause,
  });
}

function indexTooLarge(dir: string, size: number): OcipullError {
  return new OcipullError(
    'MANIFEST_TOO_LARGE',
    `${join(dir, INDEX_FILE)} is ${size} bytes, over the ${MAX_DOCUMENT_BYTES}-byte limit`,
  );
}

/** Parse and check `index.json` bytes (the layout's top-level index). */
export function parseLayoutIndex(dir: string, bytes: Buffer): ImageIndex {
  if (bytes.length > MAX_DOCUMENT_BYTES) throw indexTooLarge(dir, bytes.length);
  let parsed: unknown;
  const text = bytes.toString('utf8');
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw indexInvalid(dir, `is not JSON (${(error as Error).message})`, error);
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined)
    throw indexInvalid(dir, `has key ${JSON.stringify(duplicate)} twice in one object`);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw indexInvalid(dir, 'is not a JSON object');
  const doc = parsed as Record<string, unknown>;
  if (doc.schemaVersion !== 2)
    throw indexInvalid(dir, `has schemaVersion ${JSON.stringify(doc.schemaVersion)}, not 2`);
  if (!Array.isArray(doc.manifests)) throw indexInvalid(dir, 'has no manifests array');
  let manifests: Descriptor[];
  try {
    manifests = doc.manifests.map((m, i) => checkDescriptor(m, `${INDEX_FILE} manifests[${i}]`));
  } catch (error) {
    throw indexInvalid(dir, `has an invalid entry: ${(error as Error).message}`, error);
  }
  return { ...(doc as object), schemaVersion: 2, manifests } as ImageIndex;
}

/** Read `index.json` raw (for digesting) and parsed. */
export async function readLayoutIndex(dir: string): Promise<{ index: ImageIndex; bytes: Buffer }> {
  let bytes: Buffer;
  try {
    // Sized before reading, so a hostile multi-gigabyte index.json is never loaded.
    bytes = await readLayoutFile(dir, join(dir, INDEX_FILE), 'layout index', MAX_DOCUMENT_BYTES, (size) =>
      indexTooLarge(dir, size),
    );
  } catch (error) {
    if (error instanceof OcipullError) throw error;
    throw indexInvalid(
      dir,
      errno(error) === 'ENOENT' ? 'is missing' : `cannot be read: ${(error as Error).message}`,
      error,
    );
  }
  return { index: parseLayoutIndex(dir, bytes), bytes };
}

/** The tag (`org.opencontainers.image.ref.name`) of an index entry, if any. */
export function refName(descriptor: Descriptor): string | undefined {
  return descriptor.annotations?.[Annotations.refName];
}

/** Distinct tags named in an index, in order of appearance. */
export function layoutTags(index: ImageIndex): string[] {
  return [...new Set(index.manifests.map(refName).filter((t): t is string => t !== undefined))];
}
