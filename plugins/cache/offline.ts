import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import {
  type CacheOfflineRequest,
  type CacheRememberRequest,
  type Descriptor,
  type FetchRequest,
  type FetchResponse,
  MediaTypes,
  OcipullError,
  type Source,
} from 'ocipull';
import type { DiskCache } from './cache.js';
import { RefAnnotations, readDocument } from './documents.js';
import { privateFile } from './paths.js';

/** The fetch key of sources served by the cache. */
export const CACHE_SCHEME = 'ocipull-cache';

/** A reference pulled earlier, served from the cache with no network. */
export class CachedSource implements Source {
  readonly scheme = CACHE_SCHEME;
  constructor(
    readonly cache: DiskCache,
    readonly reference: string,
    readonly root: Descriptor,
  ) {}
}

function rootOnly(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

/** Store the documents of a pull and the reference → root entry in index.json. */
export async function remember(cache: DiskCache, request: CacheRememberRequest): Promise<void> {
  const { source, documents } = request;
  if (!source.root || source instanceof CachedSource) return;
  const store = await cache.store();
  for (const document of documents) {
    await store.putBlob(document.bytes, document.descriptor);
    await privateFile(store.blobPath(document.descriptor.digest));
  }
  const annotations: Record<string, string> = {
    [RefAnnotations.reference]: source.reference,
    [RefAnnotations.requested]: request.requested,
    [RefAnnotations.resolved]: new Date().toISOString(),
  };
  if (request.defaultTag !== undefined) annotations[RefAnnotations.defaultTag] = request.defaultTag;
  const entry: Descriptor = { ...rootOnly(source.root), annotations };
  await store.updateIndex((index) => {
    index.manifests = index.manifests.filter(
      (m) =>
        !(
          m.annotations?.[RefAnnotations.requested] === request.requested &&
          m.annotations?.[RefAnnotations.defaultTag] === request.defaultTag
        ) && m.annotations?.[RefAnnotations.reference] !== source.reference,
    );
    index.manifests.push(entry);
    return index;
  });
  await privateFile(join(cache.dir, 'index.json'));
}

const DIGEST_IN_REFERENCE = /@([a-z0-9]+:[a-f0-9]{32,})$/;

/**
 * Find what a reference resolved to when it was pulled last: the same words (and default tag), or the
 * same canonical reference; a reference ending in `@digest` needs only that document to be cached.
 */
export async function openOffline(
  cache: DiskCache,
  request: CacheOfflineRequest,
): Promise<Source | undefined> {
  let entries: Descriptor[];
  try {
    entries = (await (await cache.store()).readIndex()).manifests;
  } catch {
    return undefined;
  }
  const reference = (m: Descriptor) => m.annotations?.[RefAnnotations.reference];
  const found =
    entries.findLast(
      (m) =>
        m.annotations?.[RefAnnotations.requested] === request.requested &&
        m.annotations?.[RefAnnotations.defaultTag] === request.defaultTag,
    ) ?? entries.findLast((m) => reference(m) === request.requested);
  if (found) {
    if (!(await readDocument(cache, found.digest))) return undefined;
    return new CachedSource(cache, reference(found) ?? request.requested, rootOnly(found));
  }
  const digest = DIGEST_IN_REFERENCE.exec(request.requested)?.[1];
  if (!digest) return undefined;
  const stored = await readDocument(cache, digest).catch(() => undefined);
  if (!stored) return undefined;
  const mediaType =
    stored.doc.mediaType ??
    (Array.isArray(stored.doc.manifests) ? MediaTypes.ociIndex : MediaTypes.ociManifest);
  return new CachedSource(cache, request.requested, { mediaType, digest, size: stored.bytes.length });
}

/** `fetch.for('ocipull-cache')`: documents and blobs straight from the cache; nothing else exists offline. */
export async function fetchCached(request: FetchRequest): Promise<FetchResponse | undefined> {
  const { source, descriptor, offset } = request;
  if (!(source instanceof CachedSource)) return undefined;
  const path = source.cache.paths.blob(descriptor.digest);
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(path, 'r');
  } catch {
    throw new OcipullError(
      'OFFLINE',
      `${descriptor.digest} of ${source.reference} is not in the cache ${source.cache.dir}, and the network is not used`,
      { hint: 'pull it once with the network; ocipull cache ls lists the cached disks' },
    );
  }
  const { size } = await handle.stat();
  const body = handle.createReadStream({ start: offset, highWaterMark: 1 << 20 });
  request.signal.addEventListener('abort', () => body.destroy(), { once: true });
  return { body, offset, total: size, url: path };
}
