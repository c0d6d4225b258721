import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type {
  BlobCache,
  CachedBlob,
  CacheEntryInfo,
  CacheHandle,
  CacheOfflineRequest,
  CacheOrigin,
  CachePruneOptions,
  CachePruneResult,
  CacheRememberRequest,
  Descriptor,
  Logger,
  Source,
} from 'ocipull';
import { LayoutStore } from 'ocipull';
import { currentBoot, fileMatches, syncFileAndDir } from './boot.js';
import { keepDecoded, restoreDecoded } from './decoded.js';
import { cacheDirError } from './diagnose.js';
import { acquireLock, type Release } from './lock.js';
import { openOffline, remember } from './offline.js';
import { CachePaths, digestsIn, errnoOf, privateFile } from './paths.js';
import { applyPolicy, prune, removeEntry } from './policy.js';
import { type BlobRecord, entryInfo, readRecord, updateRecord } from './records.js';
import type { CacheSettings } from './settings.js';
import { blobAt, PartialWriter } from './writer.js';

/**
 * The blob cache: an OCI layout whose blobs are the disks (and the manifests that lead to them),
 * with ocipull's records, partials and locks beside it (see paths.ts).
 */
export class DiskCache implements BlobCache {
  readonly paths: CachePaths;
  /** Digests this process downloaded and committed (podman's on-miss policy keys on them). */
  readonly committed = new Set<string>();
  private storePromise?: Promise<LayoutStore>;
  /** This boot, when entries may skip their fsync (cache.durability `boot` on a kernel that names it). */
  readonly boot: string | undefined;
  restoreDecoded?: (digest: string, path: string) => Promise<boolean>;
  keepDecoded?: (digest: string, path: string) => Promise<void>;

  constructor(
    readonly dir: string,
    readonly settings: CacheSettings,
    readonly log: Logger,
  ) {
    this.paths = new CachePaths(dir);
    this.boot = settings.durability === 'boot' ? currentBoot() : undefined;
    if (settings.decompressed) {
      this.restoreDecoded = (digest, path) => restoreDecoded(this, digest, path);
      this.keepDecoded = (digest, path) => keepDecoded(this, digest, path);
    }
  }

  /** The layout, created on first use. */
  store(): Promise<LayoutStore> {
    this.storePromise ??= (async () => {
      // Private to its owner, as containers' storage is: other users see no disks, no sources.
      await fsp.mkdir(join(this.dir, 'blobs', 'sha256'), { recursive: true, mode: 0o700 });
      const store = await LayoutStore.init(this.dir);
      await privateFile(join(this.dir, 'oci-layout'));
      await privateFile(join(this.dir, 'index.json'));
      return store;
    })().catch(async (error: unknown) => {
      this.storePromise = undefined;
      throw await cacheDirError(this.dir, 'create the cache layout', error);
    });
    return this.storePromise;
  }

  async lock(digest: string, signal?: AbortSignal): Promise<Release> {
    try {
      return await acquireLock(this.paths.lock(digest), {
        staleMs: this.settings.lockStaleMs,
        log: this.log,
        what: digest,
        signal,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw await cacheDirError(this.dir, `lock ${digest}`, error);
    }
  }

  async peek(descriptor: Descriptor): Promise<CachedBlob | undefined> {
    const path = this.paths.blob(descriptor.digest);
    try {
      const { size } = await fsp.stat(path);
      return size === descriptor.size ? blobAt(descriptor, path) : undefined;
    } catch {
      return undefined;
    }
  }

  async open(descriptor: Descriptor, origin: CacheOrigin, signal?: AbortSignal): Promise<CacheHandle> {
    await this.store();
    const release = await this.lock(descriptor.digest, signal);
    try {
      const hit = await this.openComplete(descriptor);
      if (hit) {
        // Reading needs no lock: the open handle survives an eviction by another process.
        await release();
        this.log.debug(`cache: hit ${descriptor.digest}`);
        return hit;
      }
      const writer = await PartialWriter.open(
        { paths: this.paths, log: this.log, onCommit: (d) => this.committed.add(d), boot: this.boot },
        descriptor,
        origin,
        release,
      );
      return { kind: 'miss', writer };
    } catch (error) {
      await release();
      throw await cacheDirError(this.dir, `open ${descriptor.digest}`, error);
    }
  }

  /** A complete entry opened for reading, or undefined (a wrong-sized one is removed). */
  private async openComplete(descriptor: Descriptor): Promise<CacheHandle | undefined> {
    const path = this.paths.blob(descriptor.digest);
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(path, 'r');
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return undefined;
      throw error;
    }
    const { size } = await handle.stat();
    if (size !== descriptor.size) {
      await handle.close();
      this.log.warn(
        `cache: ${descriptor.digest} is ${size} bytes instead of ${descriptor.size}; removing it`,
      );
      await removeEntry(this, descriptor.digest);
      return undefined;
    }
    if (!(await this.durableHere(descriptor, path))) {
      await handle.close();
      await removeEntry(this, descriptor.digest);
      return undefined;
    }
    let closed = false;
    const blob: CachedBlob = {
      descriptor,
      path,
      open: () => handle.createReadStream({ start: 0, autoClose: false, highWaterMark: 1 << 20 }),
    };
    return {
      kind: 'hit',
      blob,
      release: async () => {
        if (closed) return;
        closed = true;
        await handle.close();
      },
    };
  }

  /**
   * Whether an entry can be used as it is. One committed without an fsync in another boot may
   * have lost bytes in that boot's crash: it is rehashed, then fsynced and recorded as durable;
   * false when it does not match (the caller removes it). Every use rehashes the bytes it reads
   * anyway (a hit is verified as it streams, and a mismatch evicts and refetches), so an entry
   * whose record is gone is used as it is: this check moves the verdict before the decoding.
   */
  private async durableHere(descriptor: Descriptor, path: string): Promise<boolean> {
    const record = await readRecord(this.paths, descriptor.digest);
    if (!record || record.unsyncedBoot === undefined || record.unsyncedBoot === this.boot) return true;
    const why = `written in another boot (${record.unsyncedBoot})`;
    this.log.debug(`cache: ${descriptor.digest} was ${why}; checking its digest`);
    if (!(await fileMatches(path, descriptor))) {
      this.log.warn(`cache: ${descriptor.digest} (${why}) does not match its digest; removing it`);
      return false;
    }
    await syncFileAndDir(path);
    await updateRecord(this.paths, descriptor.digest, (r) => {
      delete r.unsyncedBoot;
    });
    return true;
  }

  async evict(digest: string): Promise<void> {
    const release = await this.lock(digest);
    try {
      this.log.warn(`cache: removing ${digest}, which failed verification`);
      await removeEntry(this, digest);
    } finally {
      await release();
    }
  }

  /** Records of complete entries (records whose blob is gone are skipped). */
  async records(): Promise<BlobRecord[]> {
    const out: BlobRecord[] = [];
    for (const digest of await digestsIn(this.paths.area('records'), '.json')) {
      const record = await readRecord(this.paths, digest);
      if (record && (await this.peek({ mediaType: record.mediaType, digest, size: record.size })))
        out.push(record);
    }
    return out;
  }

  async list(): Promise<CacheEntryInfo[]> {
    const records = await this.records();
    records.sort((a, b) => b.lastUsed.localeCompare(a.lastUsed));
    return records.map((r) => entryInfo(this.paths, r));
  }

  async used(digest: string, origin: CacheOrigin): Promise<void> {
    await updateRecord(this.paths, digest, (record) => {
      record.lastUsed = new Date().toISOString();
      if (!record.sources.includes(origin.source)) record.sources.push(origin.source);
    }).catch(() => {});
    await applyPolicy(this, digest, origin);
  }

  async prune(options: CachePruneOptions): Promise<CachePruneResult> {
    try {
      return await prune(this, options);
    } catch (error) {
      throw await cacheDirError(this.dir, 'prune', error);
    }
  }

  remember(request: CacheRememberRequest): Promise<void> {
    return remember(this, request);
  }

  openOffline(request: CacheOfflineRequest): Promise<Source | undefined> {
    return openOffline(this, request);
  }
}
