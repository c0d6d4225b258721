import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { type Descriptor, type ImageIndex, MAX_DOCUMENT_BYTES } from 'ocipull';
import type { DiskCache } from './cache.js';
import { digestsIn } from './paths.js';

/** Annotations on the cache's index.json entries: which reference led to which root. */
export const RefAnnotations = {
  /** Canonical reference of the source (`docker://quay.io/podman/machine-os:5.5`). */
  reference: 'io.ocipull.cache.reference',
  /** The reference as typed (or the default source). */
  requested: 'io.ocipull.cache.requested',
  /** The tag the transport applied when the reference named none. */
  defaultTag: 'io.ocipull.cache.default-tag',
  /** When it was resolved last. */
  resolved: 'io.ocipull.cache.resolved',
} as const;

/** Documents newer than this are never collected (another process may be about to list them). */
const GRACE_MS = 60_000;

/** A stored document parsed, or undefined when absent or not JSON. */
export async function readDocument(
  cache: DiskCache,
  digest: string,
): Promise<
  | {
      bytes: Buffer;
      doc: { manifests?: Descriptor[]; layers?: Descriptor[]; config?: Descriptor; mediaType?: string };
    }
  | undefined
> {
  try {
    const path = cache.paths.blob(digest);
    const { size } = await fsp.stat(path);
    if (size > MAX_DOCUMENT_BYTES) return undefined;
    const bytes = await fsp.readFile(path);
    return { bytes, doc: JSON.parse(bytes.toString('utf8')) };
  } catch {
    return undefined;
  }
}

/** Digests of the documents reachable from `root`, and of the layers their manifests name. */
export async function walk(
  cache: DiskCache,
  root: string,
): Promise<{ documents: Set<string>; layers: Set<string> }> {
  const documents = new Set<string>();
  const layers = new Set<string>();
  const visit = async (digest: string, depth: number): Promise<void> => {
    if (depth > 8 || documents.has(digest)) return;
    const found = await readDocument(cache, digest);
    if (!found) return;
    documents.add(digest);
    const { doc } = found;
    if (Array.isArray(doc.manifests)) for (const m of doc.manifests) await visit(m.digest, depth + 1);
    if (doc.config?.digest) documents.add(doc.config.digest);
    if (Array.isArray(doc.layers)) for (const l of doc.layers) layers.add(l.digest);
  };
  await visit(root, 0);
  return { documents, layers };
}

function sameEntry(a: Descriptor, b: Descriptor): boolean {
  return (
    a.digest === b.digest &&
    a.annotations?.[RefAnnotations.requested] === b.annotations?.[RefAnnotations.requested] &&
    a.annotations?.[RefAnnotations.defaultTag] === b.annotations?.[RefAnnotations.defaultTag]
  );
}

/**
 * Drop index.json entries none of whose disks is cached any more, then the documents nothing
 * reaches. With `everything` (prune --all, after the entries were removed) the grace period for
 * fresh documents is ignored, but an entry whose disk is still cached (in use by a pull, so not
 * removed) keeps its documents: `cache ls` lists only what can still be pulled offline and
 * exported. Returns the bytes freed.
 */
export async function gcDocuments(cache: DiskCache, options: { everything?: boolean } = {}): Promise<number> {
  const store = await cache.store();
  const disks = new Set((await cache.records()).map((r) => r.digest));
  const index: ImageIndex = await store.readIndex();
  const dead: Descriptor[] = [];
  const reachable = new Set<string>();
  for (const entry of index.manifests) {
    const { documents, layers } = await walk(cache, entry.digest);
    const alive = [...layers].some((l) => disks.has(l));
    if (alive) for (const d of documents) reachable.add(d);
    else dead.push(entry);
  }
  if (dead.length) {
    await store.updateIndex((current) => {
      current.manifests = current.manifests.filter((m) => !dead.some((d) => sameEntry(d, m)));
      return current;
    });
  }
  let freed = 0;
  const now = Date.now();
  for (const digest of await digestsIn(join(cache.dir, 'blobs'))) {
    if (disks.has(digest) || reachable.has(digest)) continue;
    const path = cache.paths.blob(digest);
    try {
      const stat = await fsp.stat(path);
      if (!options.everything && now - stat.mtimeMs < GRACE_MS) continue;
      await fsp.rm(path, { force: true });
      freed += stat.size;
    } catch {
      // gone already
    }
  }
  return freed;
}
