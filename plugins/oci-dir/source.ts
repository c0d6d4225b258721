import {
  checkLayoutVersion,
  type Descriptor,
  digestOf,
  type ImageIndex,
  isIndexMediaType,
  layoutBlobPath,
  layoutTags,
  MAX_DOCUMENT_BYTES,
  MediaTypes,
  OcipullError,
  type ResolveRequest,
  readLayoutFile,
  readLayoutIndex,
  refName,
  type Source,
} from 'ocipull';
import { formatLayoutReference, type LayoutReference, parseLayoutReference } from './reference.js';

/** A resolved OCI layout. Documents made up at resolve time (a tag's entries, index.json itself) are served from memory. */
export class LayoutSource implements Source {
  readonly reference: string;
  readonly scheme: string;
  readonly dir: string;
  readonly tag?: string;
  readonly synthetic = new Map<string, Buffer>();
  root?: Descriptor;

  constructor(ref: LayoutReference) {
    this.scheme = ref.scheme;
    this.dir = ref.dir;
    this.tag = ref.tag;
    this.reference = formatLayoutReference(ref);
  }

  async listTags(): Promise<string[]> {
    return layoutTags((await readLayoutIndex(this.dir)).index);
  }

  /** Serve `bytes` as an index document with their own digest. */
  addSynthetic(bytes: Buffer): Descriptor {
    const digest = digestOf(bytes);
    this.synthetic.set(digest, bytes);
    return { mediaType: MediaTypes.ociIndex, digest, size: bytes.length };
  }
}

function tagNotFound(source: LayoutSource, tag: string, index: ImageIndex): OcipullError {
  const tags = layoutTags(index);
  return new OcipullError('TAG_NOT_FOUND', `layout ${source.dir} has no tag ${JSON.stringify(tag)}`, {
    hint: tags.length
      ? `tags in this layout: ${tags.join(', ')}`
      : 'the layout has no tagged entries: leave the tag out',
    data: { tags },
  });
}

/** A digest not listed in index.json may still name a manifest stored in blobs/: read its media type. */
async function describeBlob(source: LayoutSource, digest: string): Promise<Descriptor> {
  const path = layoutBlobPath(source.dir, digest);
  let bytes: Buffer;
  try {
    bytes = await readLayoutFile(source.dir, path, `blob ${digest}:`, MAX_DOCUMENT_BYTES, () => {
      return new Error('too large for a manifest');
    });
  } catch (error) {
    if (error instanceof OcipullError) throw error;
    throw new OcipullError('MANIFEST_NOT_FOUND', `layout ${source.dir} has no manifest ${digest}`, {
      hint: "name a digest listed in the layout's index.json (or one of its manifests), or use a tag",
    });
  }
  let mediaType: unknown;
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown; manifests?: unknown };
    mediaType =
      doc.mediaType ?? (Array.isArray(doc.manifests) ? MediaTypes.ociIndex : MediaTypes.ociManifest);
  } catch {
    mediaType = undefined;
  }
  if (typeof mediaType !== 'string') {
    throw new OcipullError(
      'MANIFEST_INVALID',
      `blob ${digest} of layout ${source.dir} is not a manifest or index`,
    );
  }
  return { mediaType, digest, size: bytes.length };
}

/**
 * Resolve a layout reference to its root descriptor, at once (fails fast on a missing layout or tag):
 * `@digest` → that entry; `:tag` → the entry with that ref.name (several → an index of them);
 * neither → the only entry, or index.json itself when it lists untagged entries (a flat machine-os index).
 */
export async function resolveLayout(request: ResolveRequest): Promise<LayoutSource> {
  const ref = await parseLayoutReference(request.ref);
  const source = new LayoutSource(ref);
  if (request.purpose === 'push') return source;
  await checkLayoutVersion(ref.dir);
  const { index, bytes } = await readLayoutIndex(ref.dir);
  if (ref.digest) {
    source.root =
      index.manifests.find((m) => m.digest === ref.digest) ?? (await describeBlob(source, ref.digest));
  } else if (ref.tag !== undefined) {
    const matches = index.manifests.filter((m) => refName(m) === ref.tag);
    if (matches.length === 0) throw tagNotFound(source, ref.tag, index);
    source.root =
      matches.length === 1
        ? matches[0]
        : source.addSynthetic(
            Buffer.from(
              JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: matches }),
            ),
          );
  } else {
    const tags = layoutTags(index);
    if (index.manifests.length === 0) {
      throw new OcipullError(
        'MANIFEST_NOT_FOUND',
        `layout ${ref.dir} is empty: its index.json lists no manifests`,
      );
    }
    if (tags.length > 1) {
      throw new OcipullError('REFERENCE_INVALID', `layout ${ref.dir} holds several tags: name one`, {
        hint: `e.g. ${source.reference}:${tags[0]}; tags: ${tags.join(', ')}`,
        data: { tags },
      });
    }
    source.root = index.manifests.length === 1 ? index.manifests[0] : source.addSynthetic(bytes);
  }
  request.log.debug(
    `${source.reference}: root ${source.root!.digest} (${isIndexMediaType(source.root!.mediaType) ? 'index' : 'manifest'})`,
  );
  return source;
}
