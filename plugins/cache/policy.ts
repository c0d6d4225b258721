import { promises as fsp } from 'node:fs';
import type { CacheEntryInfo, CacheOrigin, CachePruneOptions, CachePruneResult } from 'ocipull';
import type { DiskCache } from './cache.js';
import { gcDocuments } from './documents.js';
import { tryLock } from './lock.js';
import { digestsIn, readJson } from './paths.js';
import { type BlobRecord, entryInfo, type PartialRecord, readRecord } from './records.js';

async function allocated(path: string): Promise<number> {
  try {
    const stat = await fsp.stat(path);
    return stat.blocks * 512;
  } catch {
    return 0;
  }
}

/** Remove a blob, its record and its decompressed copy. The caller holds the digest's lock. */
export async function removeEntry(cache: DiskCache, digest: string): Promise<number> {
  const { paths } = cache;
  const bytes = (await allocated(paths.blob(digest))) + (await allocated(paths.decoded(digest)));
  await fsp.rm(paths.record(digest), { force: true });
  await fsp.rm(paths.blob(digest), { force: true });
  await fsp.rm(paths.decoded(digest), { force: true });
  return bytes;
}

/** Remove entries nobody is using right now (locked ones are skipped). */
async function removeEntries(
  cache: DiskCache,
  records: BlobRecord[],
  why: string,
): Promise<{ removed: CacheEntryInfo[]; bytes: number }> {
  const removed: CacheEntryInfo[] = [];
  let bytes = 0;
  for (const record of records) {
    const release = await tryLock(cache.paths.lock(record.digest), cache.settings.lockStaleMs);
    if (!release) {
      cache.log.debug(`cache: ${record.digest} is in use; not removing it`);
      continue;
    }
    try {
      bytes += await removeEntry(cache, record.digest);
      removed.push(entryInfo(cache.paths, record));
      cache.log.debug(`cache: removed ${record.digest} (${why})`);
    } finally {
      await release();
    }
  }
  return { removed, bytes };
}

/** Remove partial downloads nobody is writing that `select` picks. */
async function removePartials(
  cache: DiskCache,
  select: (record: PartialRecord | undefined, mtimeMs: number) => boolean,
): Promise<{ count: number; bytes: number }> {
  const { paths } = cache;
  let count = 0;
  let bytes = 0;
  for (const digest of await digestsIn(paths.area('partials'))) {
    const record = await readJson<PartialRecord>(paths.partialRecord(digest));
    let mtimeMs = 0;
    try {
      mtimeMs = (await fsp.stat(paths.partial(digest))).mtimeMs;
    } catch {
      continue;
    }
    if (!select(record, mtimeMs)) continue;
    const release = await tryLock(paths.lock(digest), cache.settings.lockStaleMs);
    if (!release) continue;
    try {
      bytes += await allocated(paths.partial(digest));
      await fsp.rm(paths.partial(digest), { force: true });
      await fsp.rm(paths.partialRecord(digest), { force: true });
      count++;
    } finally {
      await release();
    }
  }
  return { count, bytes };
}

function entryBytes(record: BlobRecord): number {
  return record.size + (record.decodedBytes ?? 0);
}

/** Least recently used entries to drop so the rest fits in `maxSize` (`keep` is never chosen). */
function overSize(records: BlobRecord[], maxSize: number, keep?: string): BlobRecord[] {
  let total = records.reduce((sum, r) => sum + entryBytes(r), 0);
  const victims: BlobRecord[] = [];
  for (const record of [...records].sort((a, b) => a.lastUsed.localeCompare(b.lastUsed))) {
    if (total <= maxSize) break;
    if (record.digest === keep) continue;
    victims.push(record);
    total -= entryBytes(record);
  }
  return victims;
}

/** Run the configured policy after an output was written from `digest`. */
export async function applyPolicy(cache: DiskCache, digest: string, origin: CacheOrigin): Promise<void> {
  const { policy, maxSize } = cache.settings;
  let victims: BlobRecord[] = [];
  if (policy === 'after-use') {
    const record = await readRecord(cache.paths, digest);
    if (record) victims = [record];
  } else if (policy === 'on-miss') {
    // podman's: once the default image was downloaded afresh, older images go.
    if (!origin.defaultSource || !cache.committed.has(digest)) return;
    victims = (await cache.records()).filter((r) => r.digest !== digest);
    await removePartials(cache, (record) => record?.digest !== digest);
  } else if (policy === 'lru' && maxSize !== undefined) {
    victims = overSize(await cache.records(), maxSize, digest);
  }
  if (victims.length === 0) return;
  const { removed } = await removeEntries(cache, victims, `policy ${policy}`);
  if (removed.length) {
    cache.log.info(
      `cache: policy ${policy} removed ${removed.length} entr${removed.length === 1 ? 'y' : 'ies'}`,
    );
    await gcDocuments(cache).catch((e: unknown) =>
      cache.log.debug(`cache: document cleanup failed: ${(e as Error).message}`),
    );
  }
}

/** `ocipull cache prune`: entries by age or all, stale partials, orphaned files, unreachable documents. */
export async function prune(cache: DiskCache, options: CachePruneOptions): Promise<CachePruneResult> {
  const now = Date.now();
  const records = await cache.records();
  let victims: BlobRecord[];
  if (options.all) victims = records;
  else {
    // --older-than adds to the default cleanup (the lru limit, stale partials), never relaxes it.
    const stale = new Set<BlobRecord>();
    if (options.olderThanMs !== undefined) {
      const limit = now - options.olderThanMs;
      for (const r of records) if (Date.parse(r.lastUsed) < limit) stale.add(r);
    }
    if (cache.settings.policy === 'lru' && cache.settings.maxSize !== undefined) {
      const rest = records.filter((r) => !stale.has(r));
      for (const r of overSize(rest, cache.settings.maxSize)) stale.add(r);
    }
    victims = [...stale];
  }
  const { removed, bytes } = await removeEntries(cache, victims, 'prune');
  const partialAge = options.all
    ? -1
    : Math.min(options.olderThanMs ?? Number.POSITIVE_INFINITY, cache.settings.partialMaxAgeMs);
  const partials = await removePartials(cache, (record, mtimeMs) => {
    if (options.all || !record) return true;
    const touched = Math.max(Date.parse(record.updated) || 0, mtimeMs);
    return touched < now - partialAge;
  });
  // Records whose blob vanished, decompressed copies whose record did. A commit writes the record
  // before it renames the blob into place, holding the digest's lock: a locked digest is skipped.
  const kept = new Set((await cache.records()).map((r) => r.digest));
  const orphans = async (area: 'records' | 'decoded', path: (digest: string) => string, suffix = '') => {
    for (const digest of await digestsIn(cache.paths.area(area), suffix)) {
      if (kept.has(digest)) continue;
      const release = await tryLock(cache.paths.lock(digest), cache.settings.lockStaleMs);
      if (!release) continue;
      try {
        // Looked at again under the lock: a commit may have finished since the listing.
        const record = await readRecord(cache.paths, digest);
        const blob = record && (await cache.peek({ mediaType: record.mediaType, digest, size: record.size }));
        if (!blob) await fsp.rm(path(digest), { force: true });
      } finally {
        await release();
      }
    }
  };
  await orphans('records', (d) => cache.paths.record(d), '.json');
  await orphans('decoded', (d) => cache.paths.decoded(d));
  const documents = await gcDocuments(cache, { everything: options.all });
  return { entries: removed, partials: partials.count, bytes: bytes + partials.bytes + documents };
}
