import { createReadStream, promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import {
  BackgroundFlush,
  type CachedBlob,
  type CacheOrigin,
  type CacheWriter,
  type Descriptor,
  type Logger,
} from 'ocipull';
import type { Release } from './lock.js';
import {
  type CachePaths,
  cacheError,
  DIR_MODE,
  errnoOf,
  FILE_MODE,
  readJson,
  removeStrayTemps,
  writeJsonAtomic,
} from './paths.js';
import { addRange, type ByteRange, cleanRanges } from './range-set.js';
import { ifRangeOf, newRecord, type PartialRecord, readRecord, writeRecord } from './records.js';

const RECORD_EVERY_MS = 2000;

export interface WriterContext {
  paths: CachePaths;
  log: Logger;
  /** Called once the blob is in place (the run downloaded it). */
  onCommit(digest: string): void;
  /**
   * The boot to record in a blob committed without an fsync (cache.durability `boot`);
   * undefined: the blob is fsynced before its rename.
   */
  boot?: string;
}

/** A complete blob at `path`, read by path (used right after a commit). */
export function blobAt(descriptor: Descriptor, path: string): CachedBlob {
  return { descriptor, path, open: () => createReadStream(path, { highWaterMark: 1 << 20 }) };
}

/**
 * The partial download of one blob, owned by this process while it holds the digest's lock.
 * Bytes go to `ocipull/partials/<alg>/<hex>`; the record beside it says where they came from.
 * A one-stream download appends, and the file's length is what resumes; a ranged download
 * writes at offsets and the record lists the complete ranges (`ranges`), so a restart fetches
 * only the gaps. Either way the core rehashes every byte, so a bad partial never survives.
 */
export class PartialWriter implements CacheWriter {
  private position: number;
  private info: { url?: string; etag?: string; lastModified?: string } = {};
  private lastRecord = 0;
  private done = false;
  /** Write-back beside the writing, for a blob that is fsynced at the end (none when boot-scoped). */
  private readonly flusher?: BackgroundFlush;
  /** Complete ranges, the prefix [0, position) included; recorded once a range was marked. */
  private ranges: ByteRange[];
  private ranged: boolean;
  private saving: Promise<void> = Promise.resolve();
  readonly completed: ReadonlyArray<ByteRange>;

  private constructor(
    private readonly context: WriterContext,
    private readonly descriptor: Descriptor,
    private readonly origin: CacheOrigin,
    readonly offset: number,
    readonly ifRange: string | undefined,
    private readonly handle: fsp.FileHandle,
    private readonly release: Release,
    held: ByteRange[],
  ) {
    this.position = offset;
    if (!context.boot) this.flusher = new BackgroundFlush(handle.fd);
    this.ranges = offset > 0 ? addRange(held, 0, offset) : held;
    this.ranged = held.length > 0;
    this.completed = this.ranges.filter(([start]) => start > 0);
  }

  /** Open (or start) the partial of `descriptor`; a partial whose record does not match is discarded. */
  static async open(
    context: WriterContext,
    descriptor: Descriptor,
    origin: CacheOrigin,
    release: Release,
  ): Promise<PartialWriter> {
    const { paths, log } = context;
    const path = paths.partial(descriptor.digest);
    await fsp.mkdir(dirname(path), { recursive: true, mode: DIR_MODE });
    const record = await readJson<PartialRecord>(paths.partialRecord(descriptor.digest));
    let length = 0;
    try {
      length = (await fsp.stat(path)).size;
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
    }
    const matches = record?.digest === descriptor.digest && record.size === descriptor.size;
    let offset = length;
    let held: ByteRange[] = [];
    if (length > 0 && (!matches || length > descriptor.size)) {
      log.info(`cache: discarding a partial of ${descriptor.digest} that does not match its record`);
      offset = 0;
    } else if (length > 0 && record?.ranges) {
      // A ranged partial: only what its record lists is data (the rest are holes).
      held = cleanRanges(record.ranges, length);
      offset = held[0]?.[0] === 0 ? held[0][1] : 0;
    }
    // Positional writes: a ranged download fills the file out of order (O_APPEND would ignore offsets).
    const handle = await fsp.open(path, 'r+').catch((error: unknown) => {
      if (errnoOf(error) !== 'ENOENT') throw error;
      return fsp.open(path, 'w+', FILE_MODE);
    });
    await handle.chmod(FILE_MODE);
    if (offset === 0 && held.length === 0 && length > 0) await handle.truncate(0);
    const kept = held.reduce((sum, [a, b]) => sum + b - a, 0) || offset;
    if (kept > 0)
      log.debug(
        `cache: partial of ${descriptor.digest} holds ${kept} of ${descriptor.size} bytes${held.length > 0 ? ` in ${held.length} ranges` : ''}`,
      );
    const ifRange = kept > 0 && record ? ifRangeOf(record) : undefined;
    const writer = new PartialWriter(context, descriptor, origin, offset, ifRange, handle, release, held);
    if (kept > 0 && record)
      writer.info = { url: record.url, etag: record.etag, lastModified: record.lastModified };
    return writer;
  }

  /** Bytes [start, end) of the partial: a range an earlier run completed. */
  readRange(start: number, end: number): Readable {
    return createReadStream(this.context.paths.partial(this.descriptor.digest), {
      start,
      end: end - 1,
      highWaterMark: 1 << 20,
    });
  }

  /** Bytes of a range at their place in the blob (ranges arrive out of order). */
  async writeAt(offset: number, chunk: Buffer): Promise<void> {
    if (!this.ranged) {
      // From now on the file has holes: its length no longer says what is data (even after kill -9).
      this.ranged = true;
      await this.saveRecord();
    }
    try {
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await this.handle.write(chunk, done, chunk.length - done, offset + done);
        done += bytesWritten;
      }
    } catch (error) {
      throw cacheError(this.context.paths.dir, `write ${this.descriptor.digest}`, error, {
        written: offset,
        needed: this.descriptor.size,
      });
    }
  }

  /** [start, end) is written: a restart keeps it and fetches only the gaps. */
  async markComplete(start: number, end: number): Promise<void> {
    this.ranged = true;
    this.ranges = addRange(this.ranges, start, end);
    await this.saveRecord();
  }

  replay(): Readable {
    return createReadStream(this.context.paths.partial(this.descriptor.digest), {
      start: 0,
      end: this.offset - 1,
      highWaterMark: 1 << 20,
    });
  }

  async describe(info: { url?: string; etag?: string; lastModified?: string }): Promise<void> {
    this.info = { url: info.url ?? this.info.url, etag: info.etag, lastModified: info.lastModified };
    await this.saveRecord();
  }

  async write(chunk: Buffer): Promise<void> {
    try {
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await this.handle.write(
          chunk,
          done,
          chunk.length - done,
          this.position + done,
        );
        done += bytesWritten;
      }
      if (this.ranged) this.ranges = addRange(this.ranges, this.position, this.position + chunk.length);
      this.position += chunk.length;
      if (Date.now() - this.lastRecord >= RECORD_EVERY_MS) await this.saveRecord();
    } catch (error) {
      throw cacheError(this.context.paths.dir, `write ${this.descriptor.digest}`, error, {
        written: this.position,
        needed: this.descriptor.size,
      });
    }
  }

  async commit(): Promise<CachedBlob> {
    const { paths } = this.context;
    const digest = this.descriptor.digest;
    try {
      const boot = this.context.boot;
      await this.flusher?.stop();
      if (!boot) await this.handle.sync();
      await this.close();
      await this.saving.catch(() => {});
      const previous = await readRecord(paths, digest);
      const record = newRecord(this.descriptor, this.origin, previous);
      // Boot-scoped: the record naming this boot is on the disk before the blob can be visible, so
      // a blob that survives a crash without its bytes is always rehashed in the next boot.
      if (boot) record.unsyncedBoot = boot;
      await writeRecord(paths, record, { sync: boot !== undefined });
      const final = paths.blob(digest);
      await fsp.mkdir(dirname(final), { recursive: true, mode: DIR_MODE });
      // The rename is what makes the entry visible, and it happens only after the core verified it.
      await fsp.rename(paths.partial(digest), final);
      await fsp.rm(paths.partialRecord(digest), { force: true });
      await removeStrayTemps(paths.partialRecord(digest));
      await removeStrayTemps(paths.record(digest));
      this.context.onCommit(digest);
      return blobAt(this.descriptor, final);
    } catch (error) {
      throw cacheError(paths.dir, `commit ${digest}`, error, { needed: this.descriptor.size });
    } finally {
      await this.release();
    }
  }

  async abort(keepPartial: boolean): Promise<void> {
    const { paths } = this.context;
    const digest = this.descriptor.digest;
    try {
      await this.close();
      // A range record being saved must land before the files are kept or removed.
      await this.saving.catch(() => {});
      let kept = false;
      if (keepPartial && (this.ranged ? this.ranges.length > 0 : this.position > 0)) {
        try {
          await this.saveRecord(true);
          kept = true;
          const held = this.ranges.reduce((sum, [a, b]) => sum + b - a, 0);
          this.context.log.info(
            this.ranged
              ? `cache: kept ${held} of ${this.descriptor.size} bytes of ${digest} in ${this.ranges.length} ranges; the next pull fetches only the gaps`
              : `cache: kept ${this.position} of ${this.descriptor.size} bytes of ${digest}; the next pull resumes there`,
          );
        } catch (error) {
          // A partial without its record is never resumed: drop it (a full cache gets its space back).
          this.context.log.warn(
            `cache: cannot record the partial of ${digest} (${(error as Error).message}); discarding it`,
          );
        }
      }
      if (!kept) {
        await fsp.rm(paths.partial(digest), { force: true });
        await fsp.rm(paths.partialRecord(digest), { force: true });
        await removeStrayTemps(paths.partialRecord(digest));
      }
    } finally {
      await this.release();
    }
  }

  private saveRecord(force = false): Promise<void> {
    if (this.done && !force) return Promise.resolve();
    this.lastRecord = Date.now();
    // One save at a time, each writing the state when it starts: the last one written is the newest.
    const next = this.saving
      .catch(() => {})
      .then(() => {
        const prefix = this.ranges[0]?.[0] === 0 ? this.ranges[0][1] : 0;
        const record: PartialRecord = {
          digest: this.descriptor.digest,
          size: this.descriptor.size,
          offset: this.ranged ? prefix : this.position,
          source: this.origin.source,
          ...this.info,
          ...(this.ranged ? { ranges: this.ranges.map(([a, b]) => [a, b] as [number, number]) } : {}),
          updated: new Date().toISOString(),
        };
        return writeJsonAtomic(this.context.paths.partialRecord(this.descriptor.digest), record);
      });
    this.saving = next;
    return next;
  }

  private async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.flusher?.stop();
    await this.handle.close();
  }
}
