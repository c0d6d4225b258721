import type { CacheEntryInfo, CacheOrigin, Descriptor, Platform } from 'ocipull';
import { type CachePaths, readJson, writeJsonAtomic } from './paths.js';

/** What the cache knows about a complete blob (ocipull/records/<alg>/<hex>.json). */
export interface BlobRecord {
  digest: string;
  size: number;
  mediaType: string;
  /** Canonical reference of the source it was first pulled from, and every source since. */
  source?: string;
  sources: string[];
  manifestDigest?: string;
  title?: string;
  diskType?: string;
  platform?: Platform;
  created: string;
  lastUsed: string;
  /** Bytes the decompressed copy occupies on disk, when one is kept. */
  decodedBytes?: number;
  /**
   * The boot (kernel boot id) the blob was committed in without an fsync: in any other boot it is
   * rehashed (and then fsynced) before use. Absent: the blob was fsynced before its rename.
   */
  unsyncedBoot?: string;
}

/** The small record beside a partial download. */
export interface PartialRecord {
  digest: string;
  size: number;
  /** Bytes written when the record was last updated (the file's length is what counts). */
  offset: number;
  source?: string;
  url?: string;
  etag?: string;
  lastModified?: string;
  /**
   * A ranged download's complete byte ranges ([start, end), sorted; the file has holes between
   * them). Absent: the file's length is the complete prefix, as a one-stream download writes it.
   */
  ranges?: [number, number][];
  updated: string;
}

export function newRecord(descriptor: Descriptor, origin: CacheOrigin, previous?: BlobRecord): BlobRecord {
  const now = new Date().toISOString();
  const sources = [...new Set([...(previous?.sources ?? []), origin.source])];
  return {
    digest: descriptor.digest,
    size: descriptor.size,
    mediaType: descriptor.mediaType,
    source: previous?.source ?? origin.source,
    sources,
    manifestDigest: origin.manifestDigest ?? previous?.manifestDigest,
    title: origin.title ?? previous?.title,
    diskType: origin.diskType ?? previous?.diskType,
    platform: origin.platform ?? previous?.platform,
    created: previous?.created ?? now,
    lastUsed: now,
    decodedBytes: previous?.decodedBytes,
  };
}

export function readRecord(paths: CachePaths, digest: string): Promise<BlobRecord | undefined> {
  return readJson<BlobRecord>(paths.record(digest));
}

export function writeRecord(
  paths: CachePaths,
  record: BlobRecord,
  options: { sync?: boolean } = {},
): Promise<void> {
  return writeJsonAtomic(paths.record(record.digest), record, options);
}

/** Update a record in place (no-op when it is gone). */
export async function updateRecord(
  paths: CachePaths,
  digest: string,
  change: (record: BlobRecord) => void,
): Promise<void> {
  const record = await readRecord(paths, digest);
  if (!record) return;
  change(record);
  await writeRecord(paths, record);
}

export function entryInfo(paths: CachePaths, record: BlobRecord): CacheEntryInfo {
  return {
    digest: record.digest,
    size: record.size,
    title: record.title,
    source: record.source,
    manifestDigest: record.manifestDigest,
    lastUsed: record.lastUsed,
    path: paths.blob(record.digest),
  };
}

/** The validator to send as If-Range: a strong ETag, else Last-Modified. */
export function ifRangeOf(record: Pick<PartialRecord, 'etag' | 'lastModified'>): string | undefined {
  if (record.etag && !record.etag.startsWith('W/')) return record.etag;
  return record.lastModified;
}
