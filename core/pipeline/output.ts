import { createHash, randomBytes } from 'node:crypto';
import { constants, promises as fsp, fstatSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { OcipullError } from '../errors/errors.js';
import type { DiskOutput } from '../types.js';
import { forgetOnExit, removeOnExit } from './exit-cleanup.js';
import { BackgroundFlush } from './flush.js';
import { describeNoSpace, spaceErrno } from './space.js';

const BLOCK = 4096;
const STAGE = 1 << 20;
const ZERO = Buffer.alloc(BLOCK);

function outputError(target: string, error: unknown, written?: number): OcipullError {
  const space = spaceErrno(error);
  if (error instanceof OcipullError && (!space || error.code === 'OUTPUT_FAILED')) return error;
  const code = (error as { code?: string }).code;
  if (space) {
    return new OcipullError(
      'OUTPUT_FAILED',
      `cannot write ${target}: ${describeNoSpace(space, dirname(target), { written })}`,
      {
        hint: `free space in ${dirname(target)}, or choose another -o; the disk needs more than the ${written ?? 0} bytes written so far`,
        cause: error,
        data: { errno: space, written },
      },
    );
  }
  const reason = code === 'ENOENT' ? 'its directory does not exist' : (error as Error).message;
  return new OcipullError('OUTPUT_FAILED', `cannot write ${target}: ${reason}`, { cause: error });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

const NAME_MAX = 255;
const SUFFIX = '.ocipull-tmp';

/**
 * The start of this target's temp names: `.<name>.`, with a long name cut and a hash of it added
 * so that `<prefix><pid>-<random>.ocipull-tmp` stays within NAME_MAX (255 bytes) whatever the
 * output's name.
 */
function tempPrefix(target: string): string {
  const name = basename(target);
  const room = NAME_MAX - Buffer.byteLength(`..${'9'.repeat(10)}-${'f'.repeat(8)}${SUFFIX}`);
  if (Buffer.byteLength(name) <= room) return `.${name}.`;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 12);
  let cut = name;
  while (Buffer.byteLength(cut) > room - hash.length - 1) cut = cut.slice(0, -1);
  return `.${cut}~${hash}.`;
}

/**
 * Remove temp files left beside `target` by runs that were killed (SIGKILL, power loss), i.e.
 * whose process no longer exists. Files of live runs are left alone, and so is what this user
 * cannot remove (another user's, in a shared directory) or what is not a plain file: such
 * leftovers never block a pull, since every run's temp name is its own.
 */
async function removeOrphans(target: string): Promise<void> {
  const prefix = tempPrefix(target);
  let names: string[];
  try {
    names = await fsp.readdir(dirname(target));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(SUFFIX)) continue;
    const pid = Number(/^(\d+)-[0-9a-f]+\.ocipull-tmp$/.exec(name.slice(prefix.length))?.[1]);
    if (!(pid > 0) || pid === process.pid || alive(pid)) continue;
    const path = join(dirname(target), name);
    try {
      if ((await fsp.lstat(path)).isFile()) await fsp.rm(path, { force: true });
    } catch {
      // not ours to remove: skipped
    }
  }
}

/** What `target` (followed through symlinks) is when it is a node no disk is written to. */
async function specialKind(target: string): Promise<string | undefined> {
  let stat: Stats;
  try {
    stat = await fsp.stat(target);
  } catch {
    return undefined;
  }
  if (stat.isCharacterDevice()) return 'character device';
  if (stat.isFIFO()) return 'FIFO';
  if (stat.isSocket()) return 'socket';
  return undefined;
}

/** A block device's size in bytes, from /sys (Linux); undefined when it cannot be read. */
async function blockDeviceSize(stat: Stats): Promise<number | undefined> {
  const rdev = stat.rdev;
  const major = (Math.floor(rdev / 256) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | (Math.floor(rdev / 4096) & ~0xff);
  try {
    const sectors = Number((await fsp.readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8')).trim());
    return Number.isSafeInteger(sectors) ? sectors * 512 : undefined;
  } catch {
    return undefined;
  }
}

/** `target` followed through symlinks, when it is a block device. */
async function blockDevice(target: string): Promise<Stats | undefined> {
  try {
    const stat = await fsp.stat(target);
    return stat.isBlockDevice() ? stat : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The output disk being written: a temp file beside the target, made visible by `commit` only
 * (fsync, then rename; with `replace: false` a link that fails if the target appeared meanwhile).
 * A block device given with `replace` is written in place instead (`device`): no temp file, no
 * rename, no holes, and nothing past the device's end.
 */
export class OutputFile implements DiskOutput {
  private written = 0;
  /** Bytes handed to the kernel (what a reader of `path` can see). */
  private flushed = 0;
  private closed = false;
  private readonly flusher: BackgroundFlush;

  private constructor(
    readonly target: string,
    readonly path: string,
    readonly fd: number,
    readonly sparse: boolean,
    private readonly replace: boolean,
    private readonly handle: fsp.FileHandle,
    /** Set for a block device written in place: its size in bytes (undefined: unknown). */
    readonly device?: { size: number | undefined },
  ) {
    this.flusher = new BackgroundFlush(fd);
  }

  /**
   * Fails fast, before anything is fetched: OUTPUT_NOT_FILE for a character device, FIFO or
   * socket at `target` (with or without --replace: renaming over it would replace the node, e.g.
   * /dev/null, with a file), OUTPUT_EXISTS for anything else that exists without --replace.
   */
  static async checkTarget(target: string, replace: boolean): Promise<void> {
    const kind = await specialKind(target);
    if (kind) {
      throw new OcipullError('OUTPUT_NOT_FILE', `${target} is a ${kind}, not a file`, {
        hint: 'choose a regular file (or a block device, with --replace) as -o',
        data: { path: target, type: kind },
      });
    }
    if (replace) return;
    try {
      await fsp.lstat(target);
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return;
      throw outputError(target, error);
    }
    throw new OcipullError('OUTPUT_EXISTS', `${target} already exists`, {
      hint: 'pass --replace to overwrite it, or choose another -o',
    });
  }

  static async create(target: string, options: { sparse: boolean; replace: boolean }): Promise<OutputFile> {
    await OutputFile.checkTarget(target, options.replace);
    const device = options.replace ? await blockDevice(target) : undefined;
    if (device) {
      const size = await blockDeviceSize(device);
      try {
        const handle = await fsp.open(target, constants.O_RDWR);
        return new OutputFile(target, target, handle.fd, false, true, handle, { size });
      } catch (error) {
        throw outputError(target, error);
      }
    }
    await removeOrphans(target);
    for (let attempt = 0; ; attempt++) {
      const temp = join(
        dirname(target),
        `${tempPrefix(target)}${process.pid}-${randomBytes(4).toString('hex')}${SUFFIX}`,
      );
      try {
        const handle = await fsp.open(temp, constants.O_CREAT | constants.O_EXCL | constants.O_RDWR, 0o644);
        removeOnExit(temp);
        return new OutputFile(target, temp, handle.fd, options.sparse, options.replace, handle);
      } catch (error) {
        // Someone else's file under our would-be name (a planted one): take another name.
        if ((error as { code?: string }).code === 'EEXIST' && attempt < 8) continue;
        throw outputError(target, error);
      }
    }
  }

  get bytesWritten(): number {
    return this.written;
  }

  /**
   * The failure of a write into this output as the user should see it: a full filesystem or an
   * exhausted quota is OUTPUT_FAILED naming the directory, whoever hit it (our writer, or a
   * decoder child that printed "No space left on device" and exited). Anything else is returned
   * unchanged.
   */
  explainFailure(error: unknown): unknown {
    if (error instanceof OcipullError && (error.code === 'OUTPUT_FAILED' || error.code === 'CACHE_FAILED'))
      return error;
    if (!spaceErrno(error)) return error;
    let size = this.written;
    try {
      size = Math.max(size, fstatSync(this.fd).size);
    } catch {}
    return outputError(this.target, error, size);
  }

  /**
   * Record bytes written by someone else (a child process writing to `fd`); returns the bytes a
   * reader of `path` can see, so never what is still staged in `createWriteStream`'s buffer (a
   * format check reading the head while it was staged would find the file empty).
   */
  async syncSize(): Promise<number> {
    if (this.device) return this.flushed;
    const { size } = await this.handle.stat();
    this.written = Math.max(this.written, size);
    return Math.max(size, this.flushed);
  }

  createWriteStream(): Writable {
    const output = this;
    let stage = Buffer.allocUnsafe(STAGE);
    let staged = 0;
    let position = 0;

    const flush = async (final: boolean) => {
      let start = 0;
      while (start < staged) {
        const end = Math.min(start + BLOCK, staged);
        const zero =
          output.sparse && end - start === BLOCK && stage.compare(ZERO, 0, BLOCK, start, end) === 0;
        if (zero) {
          start = end;
          continue;
        }
        // Extend over following non-zero blocks so runs of data are written in one call.
        let runEnd = end;
        while (runEnd < staged) {
          const next = Math.min(runEnd + BLOCK, staged);
          if (output.sparse && next - runEnd === BLOCK && stage.compare(ZERO, 0, BLOCK, runEnd, next) === 0)
            break;
          runEnd = next;
        }
        const room = output.device?.size;
        if (room !== undefined && position + runEnd > room) {
          throw new OcipullError(
            'OUTPUT_FAILED',
            `cannot write ${output.target}: the disk is larger than the ${room}-byte block device`,
            {
              hint: 'choose a block device at least as large as the disk, or a file as -o',
              data: { deviceSize: room },
            },
          );
        }
        let off = start;
        while (off < runEnd) {
          const { bytesWritten } = await output.handle.write(stage, off, runEnd - off, position + off);
          off += bytesWritten;
        }
        start = runEnd;
      }
      position += staged;
      staged = 0;
      output.flushed = position;
      if (final && !output.device) await output.handle.truncate(position);
    };

    return new Writable({
      highWaterMark: STAGE,
      write(chunk: Buffer, _enc, callback) {
        (async () => {
          let offset = 0;
          while (offset < chunk.length) {
            const n = Math.min(chunk.length - offset, STAGE - staged);
            chunk.copy(stage, staged, offset, offset + n);
            staged += n;
            offset += n;
            if (staged === STAGE) await flush(false);
          }
          output.written += chunk.length;
        })().then(
          () => callback(),
          (e) => callback(outputError(output.target, e, output.written)),
        );
      },
      final(callback) {
        flush(true).then(
          () => {
            stage = Buffer.alloc(0);
            callback();
          },
          (e) => callback(outputError(output.target, e, output.written)),
        );
      },
    });
  }

  /** fsync, close, and move into place. */
  async commit(): Promise<void> {
    try {
      await this.flusher.stop();
      await this.handle.sync();
      await this.close();
      if (this.device) return;
      if (this.replace) {
        await fsp.rename(this.path, this.target);
      } else {
        try {
          await fsp.link(this.path, this.target);
        } catch (error) {
          if ((error as { code?: string }).code === 'EEXIST') {
            throw new OcipullError('OUTPUT_EXISTS', `${this.target} appeared while pulling`, {
              hint: 'pass --replace to overwrite it',
            });
          }
          if (!['EPERM', 'ENOTSUP', 'EXDEV', 'EOPNOTSUPP'].includes((error as { code?: string }).code ?? ''))
            throw error;
          await fsp.rename(this.path, this.target);
        }
        await fsp.rm(this.path, { force: true });
      }
      forgetOnExit(this.path);
      const dir = await fsp.open(dirname(this.target), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (error) {
      await this.discard();
      throw outputError(this.target, error, this.written);
    }
  }

  async discard(): Promise<void> {
    await this.close();
    // A block device is never removed: what was written into it stays there.
    if (this.device) return;
    await fsp.rm(this.path, { force: true });
    forgetOnExit(this.path);
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flusher.stop();
    await this.handle.close();
  }
}

/** Expand `{name}-{arch}.{format}` style templates. */
export function expandOutputName(template: string, values: Record<string, string | undefined>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
}
