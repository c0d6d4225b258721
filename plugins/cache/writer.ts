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
  writeJsonAtomic,
} from './paths.js';
import { ifRangeOf, newRecord, type PartialRecord, readRecord, writeRecord } from './records.js';

const RECORD_EVERY_MS = 2000;

export interface WriterContext {
  paths: CachePaths;
  log: Logger;
  /** Called once the blob is in place (the run downloaded it). */
  onCommit(digest: string): void;
}

/** A complete blob at `path`, read by path (used right after a commit). */
export function blobAt(descriptor: Descriptor, path: string): CachedBlob {
  return { descriptor, path, open: () => createReadStream(path, { highWaterMark: 1 << 20 }) };
}

/**
 * The partial download of one blob, owned by this process while it holds the digest's lock.
 * Bytes go to `ocipull/partials/<alg>/<hex>`; the record beside it says where they came from.
 * The file's length is what resumes: the core rehashes the bytes, so a bad partial never survives.
 */
export class PartialWriter implements CacheWriter {
  private position: number;
  private info: { url?: string; etag?: string; lastModified?: string } = {};
  private lastRecord = 0;
  private done = false;
  private readonly flusher: BackgroundFlush;

  private constructor(
    private readonly context: WriterContext,
    private readonly descriptor: Descriptor,
    private readonly origin: CacheOrigin,
    readonly offset: number,
    readonly ifRange: string | undefined,
    private readonly handle: fsp.FileHandle,
    private readonly release: Release,
  ) {
    this.position = offset;
    this.flusher = new BackgroundFlush(handle.fd);
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
    if (length > 0 && (!matches || length > descriptor.size)) {
      log.info(`cache: discarding a partial of ${descriptor.digest} that does not match its record`);
      offset = 0;
    }
    const handle = await fsp.open(path, 'a', FILE_MODE);
    await handle.chmod(FILE_MODE);
    if (offset === 0 && length > 0) await handle.truncate(0);
    if (offset > 0)
      log.debug(`cache: partial of ${descriptor.digest} holds ${offset} of ${descriptor.size} bytes`);
    const ifRange = offset > 0 && record ? ifRangeOf(record) : undefined;
    const writer = new PartialWriter(context, descriptor, origin, offset, ifRange, handle, release);
    if (offset > 0 && record)
      writer.info = { url: record.url, etag: record.etag, lastModified: record.lastModified };
    return writer;
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
      await this.handle.write(chunk);
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
      await this.flusher.stop();
      await this.handle.sync();
      await this.close();
      const previous = await readRecord(paths, digest);
      await writeRecord(paths, newRecord(this.descriptor, this.origin, previous));
      const final = paths.blob(digest);
      await fsp.mkdir(dirname(final), { recursive: true, mode: DIR_MODE });
      // The rename is what makes the entry visible, and it happens only after the core verified it.
      await fsp.rename(paths.partial(digest), final);
      await fsp.rm(paths.partialRecord(digest), { force: true });
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
      let kept = false;
      if (keepPartial && this.position > 0) {
        try {
          await this.saveRecord(true);
          kept = true;
          this.context.log.info(
            `cache: kept ${this.position} of ${this.descriptor.size} bytes of ${digest}; the next pull resumes there`,
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
      }
    } finally {
      await this.release();
    }
  }

  private async saveRecord(force = false): Promise<void> {
    if (this.done && !force) return;
    this.lastRecord = Date.now();
    const record: PartialRecord = {
      digest: this.descriptor.digest,
      size: this.descriptor.size,
      offset: this.position,
      source: this.origin.source,
      ...this.info,
      updated: new Date().toISOString(),
    };
    await writeJsonAtomic(this.context.paths.partialRecord(this.descriptor.digest), record);
  }

  private async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.flusher.stop();
    await this.handle.close();
  }
}
