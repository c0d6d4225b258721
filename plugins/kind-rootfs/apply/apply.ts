/**
 * Apply one (decoded) tar layer to a tree as image-spec layer.md says: entries are added or
 * replace what is there (any type by any type), `.wh.NAME` removes a sibling of the lower layers,
 * `.wh..wh..opq` hides every lower sibling. Every path is resolved inside the root (resolve.ts);
 * nothing is ever written through a symlink. docs/rootfs.md describes the promises.
 */
import { execFile } from 'node:child_process';
import { constants, type Stats } from 'node:fs';
import {
  chmod,
  type FileHandle,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  rm,
  symlink,
  unlink,
} from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { isAbortError, isOcipullError, type Logger, OcipullError } from 'ocipull';
import tar, { type Header } from 'tar-stream';
import { metaGuard } from './guard.js';
import { Budget, type LayerBudget, type Limits } from './limits.js';
import { classify, components, shown } from './names.js';
import { keepBinaryXattrs } from './pax.js';
import type { EntryMeta, EntryType, RecordWriter } from './record.js';
import { resolveDir, under } from './resolve.js';
import { applyXattrs, xattrsOf } from './xattrs.js';

const run = promisify(execFile);

export interface ApplyOptions {
  /** Apply owners and make device nodes (default: the process runs as uid 0). */
  asRoot?: boolean;
  /** Where the image's owners, modes and devices go when not root (record.ts). */
  record?: RecordWriter;
  /** The image's budget, shared by its layers (else a fresh one of `limits`). */
  budget?: Budget;
  limits?: Partial<Limits>;
  /** Names the layer in messages (`layer 2 sha256:…`). */
  label?: string;
  log?: Logger;
  signal?: AbortSignal;
}

export interface LayerStats {
  entries: number;
  bytes: number;
  whiteouts: number;
  /** Device nodes not made (rootless): kept in the record. */
  skippedDevices: number;
}

interface Times {
  atime: number;
  mtime: number;
}

const TYPES: Record<string, EntryType> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'directory',
  symlink: 'symlink',
  fifo: 'fifo',
  'character-device': 'char',
  'block-device': 'block',
};

const NO_SPACE = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'EACCES', 'EPERM', 'EMFILE', 'ENFILE']);

/** Stream `input` (an uncompressed tar) into the tree at `root`. */
export async function applyLayer(
  input: Readable,
  root: string,
  options: ApplyOptions = {},
): Promise<LayerStats> {
  const state = new LayerState(root, options);
  const extract = tar.extract();
  keepBinaryXattrs(extract);
  const feeding = pipeline(input, metaGuard(options.label ?? 'layer'), extract);
  // Awaited after the loop; until then a failing input (a truncated gzip) must not be an
  // unhandled rejection, which would end the process.
  feeding.catch(() => {});
  // An abort stops the layer where it is, also inside one large entry (not only between entries).
  const onAbort = () => input.destroy(options.signal?.reason as Error);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let failure: unknown;
  try {
    for await (const entry of extract) {
      options.signal?.throwIfAborted();
      try {
        await state.entry(entry.header, entry as unknown as AsyncIterable<Buffer>);
      } catch (error) {
        throw isCutShort(error) ? error : state.named(error, entry.header.name);
      }
      entry.resume();
    }
  } catch (error) {
    failure = error;
    extract.destroy();
    input.destroy();
  }
  try {
    await feeding;
  } catch (error) {
    // An entry cut short because the tar itself failed (it ends inside the entry, the stream
    // under it broke): the tar's failure is the cause.
    if (failure === undefined || (isCutShort(failure) && !isCutShort(error))) failure = error;
  }
  if (failure === undefined) {
    try {
      await state.finish();
    } catch (error) {
      failure = error;
    }
  }
  options.signal?.removeEventListener('abort', onAbort);
  await options.record?.flush();
  if (failure !== undefined) throw state.wrap(options.signal?.aborted ? options.signal.reason : failure);
  return state.stats;
}

class LayerState {
  readonly stats: LayerStats = { entries: 0, bytes: 0, whiteouts: 0, skippedDevices: 0 };
  private readonly asRoot: boolean;
  private readonly budget: LayerBudget;
  private readonly label: string;
  /** Paths this layer wrote: a whiteout or opaque marker only hides lower layers. */
  private readonly written = new Set<string>();
  /** Directory times to set once the layer is done (children change them meanwhile). */
  private readonly dirTimes = new Map<string, Times>();

  constructor(
    private readonly root: string,
    private readonly options: ApplyOptions,
  ) {
    this.asRoot = options.asRoot ?? process.getuid?.() === 0;
    this.label = options.label ?? 'layer';
    this.budget = (options.budget ?? new Budget(options.limits)).layer(this.label);
  }

  async entry(header: Header, content: AsyncIterable<Buffer>): Promise<void> {
    // tar-stream gives no type for a type flag it does not know (GNU D, M, V, N, vendor letters):
    // refused, as containerd and moby do, rather than written as a file it is not.
    let type: string = header.type ?? 'unknown';
    if (type === 'file' && header.name.endsWith('/')) type = 'directory';
    const size = TYPES[type] === 'file' ? (header.size ?? 0) : 0;
    this.budget.charge(header.name, size);
    this.stats.entries++;
    this.stats.bytes += size;
    const records = (header.pax ?? {}) as Record<string, string>;
    const sparse = Object.keys(records).find((key) => key.startsWith('GNU.sparse.'));
    if (sparse) {
      // PAX sparse files (GNU tar --sparse --format=pax): the data is a map then the segments,
      // under a made-up name; taken as a file it would be wrong, so it is refused.
      throw new OcipullError(
        'LAYER_INVALID',
        `layer entry ${shown(records['GNU.sparse.name'] ?? header.name)} is a PAX sparse file (${sparse}), which is not supported`,
        {
          hint: 'make the layer without sparse entries (GNU tar without --sparse; Go, Docker and umoci write none)',
        },
      );
    }
    const name = classify(header.name);
    if (name.kind === 'whiteout') return this.whiteout(name.parent, name.target);
    if (name.kind === 'opaque') return this.opaque(name.parent);
    const { parts } = name;
    if (type === 'link') return this.hardlink(parts, header.linkname ?? '');
    const kind = TYPES[type];
    if (kind === undefined) {
      throw new OcipullError(
        'LAYER_INVALID',
        `layer entry ${shown(header.name)} has the unsupported type ${type}`,
        {
          hint: 'layers hold files, directories, symlinks, hardlinks, fifos and devices',
        },
      );
    }
    if (parts.length === 0 && kind !== 'directory') {
      throw new OcipullError(
        'LAYER_INVALID',
        `layer entry ${shown(header.name)} names the root but is a ${type}`,
      );
    }
    const dir = parts.length === 0 ? [] : await this.parentDir(parts.slice(0, -1));
    const rel = parts.length === 0 ? [] : [...dir, parts.at(-1)!];
    const key = rel.join('/');
    const path = under(this.root, rel);
    const pax = header.pax as Record<string, string> | undefined;
    const meta: EntryMeta = {
      type: kind,
      mode: (header.mode ?? 0o644) & 0o7777,
      uid: pax?.uid ? Number(pax.uid) : (header.uid ?? 0),
      gid: pax?.gid ? Number(pax.gid) : (header.gid ?? 0),
    };
    const mtime = pax?.mtime ? Number(pax.mtime) : (header.mtime?.getTime() ?? 0) / 1000;
    const times = { atime: pax?.atime ? Number(pax.atime) : mtime, mtime };
    if (rel.length > 0) await this.touchDir(dir);

    if (kind === 'directory') {
      const existing = await lstatOrUndefined(path);
      if (!existing?.isDirectory()) {
        if (existing) await unlink(path);
        await mkdir(path, { mode: 0o700 });
      }
      if (this.asRoot) await lchown(path, meta.uid, meta.gid);
      await chmod(path, this.diskMode(meta));
      this.dirTimes.set(key, times);
    } else {
      await removeAt(path);
      if (kind === 'file') await this.writeFile(path, meta, times, content);
      else if (kind === 'symlink') {
        if (!header.linkname)
          throw new OcipullError('LAYER_INVALID', `symlink ${shown(header.name)} has no target`);
        await symlink(header.linkname, path);
        if (this.asRoot) await lchown(path, meta.uid, meta.gid);
        await lutimes(path, times.atime, times.mtime);
      } else if (kind === 'fifo') {
        await run('mkfifo', ['-m', this.diskMode(meta).toString(8), '--', path]);
        await this.finishNode(path, meta, times);
      } else {
        meta.rdev = [header.devmajor ?? 0, header.devminor ?? 0];
        if (this.asRoot) {
          await run('mknod', [
            '-m',
            meta.mode.toString(8),
            '--',
            path,
            kind === 'char' ? 'c' : 'b',
            ...meta.rdev.map(String),
          ]);
          await this.finishNode(path, meta, times);
        } else {
          meta.mtime = times.mtime;
          this.stats.skippedDevices++;
          this.options.log?.warn(
            `${this.label}: device ${shown(header.name)} (${kind} ${meta.rdev.join(':')}) not made (needs root); kept in the record`,
          );
        }
      }
    }
    const xattrs = xattrsOf(pax);
    if (xattrs.length > 0 && ((kind !== 'char' && kind !== 'block') || this.asRoot)) {
      await applyXattrs(path, header.name, xattrs, this.asRoot, this.options.log);
    }
    this.written.add(key);
    if (!this.asRoot) await this.options.record?.add({ op: 'set', path: key, ...meta });
  }

  /** The resolved parent directory; missing ones are made (0755, root's) as tar extractors do. */
  private parentDir(parts: string[]): Promise<string[]> {
    return resolveDir(this.root, parts, {
      create: true,
      onCreate: async (rel) => {
        if (!this.asRoot) {
          await this.options.record?.add({
            op: 'set',
            path: rel.join('/'),
            type: 'directory',
            mode: 0o755,
            uid: 0,
            gid: 0,
          });
        }
      },
    }) as Promise<string[]>;
  }

  private diskMode(meta: EntryMeta): number {
    if (this.asRoot) return meta.mode;
    // Rootless: the owner keeps access so later layers and the outputs can read and replace.
    return meta.mode | (meta.type === 'directory' ? 0o700 : 0o600);
  }

  private async writeFile(
    path: string,
    meta: EntryMeta,
    times: Times,
    content: AsyncIterable<Buffer>,
  ): Promise<void> {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const handle: FileHandle = await open(path, flags, 0o600);
    try {
      for await (const chunk of content) {
        let offset = 0;
        while (offset < chunk.length) offset += (await handle.write(chunk, offset)).bytesWritten;
      }
      if (this.asRoot) await handle.chown(meta.uid, meta.gid);
      await handle.chmod(this.diskMode(meta));
      await handle.utimes(times.atime, times.mtime);
    } finally {
      await handle.close();
    }
  }

  /** Owner, mode and times of a node this layer just made (a fifo or device: never a symlink). */
  private async finishNode(path: string, meta: EntryMeta, times: Times): Promise<void> {
    if (this.asRoot) await lchown(path, meta.uid, meta.gid);
    await chmod(path, this.diskMode(meta));
    await lutimes(path, times.atime, times.mtime);
  }

  private async hardlink(parts: string[], linkname: string): Promise<void> {
    if (parts.length === 0) throw new OcipullError('LAYER_INVALID', 'a hardlink entry names the root');
    const targetParts = components(linkname, 'hardlink target');
    const missing = () =>
      new OcipullError('LAYER_INVALID', `hardlink target ${shown(linkname)} is not in the tree`, {
        hint: 'a hardlink points at a file an earlier entry or layer made',
      });
    if (targetParts.length === 0) throw missing();
    const targetDir = await resolveDir(this.root, targetParts.slice(0, -1), { create: false });
    if (targetDir === undefined) throw missing();
    const targetRel = [...targetDir, targetParts.at(-1)!];
    const target = under(this.root, targetRel);
    const info = await lstatOrUndefined(target);
    if (info === undefined) throw missing();
    if (info.isDirectory()) {
      throw new OcipullError('LAYER_INVALID', `hardlink target ${shown(linkname)} is a directory`);
    }
    const dir = await this.parentDir(parts.slice(0, -1));
    const rel = [...dir, parts.at(-1)!];
    const key = rel.join('/');
    if (key === targetRel.join('/')) return;
    await this.touchDir(dir);
    await removeAt(under(this.root, rel));
    await link(target, under(this.root, rel));
    this.written.add(key);
    if (!this.asRoot) await this.options.record?.add({ op: 'link', path: key, target: targetRel.join('/') });
  }

  private async whiteout(parent: string[], target: string): Promise<void> {
    this.stats.whiteouts++;
    const dir = await resolveDir(this.root, parent, { create: false }).catch(ignoreNotDir);
    if (dir === undefined) return;
    await this.remove(dir, target);
  }

  private async opaque(parent: string[]): Promise<void> {
    this.stats.whiteouts++;
    const dir = await resolveDir(this.root, parent, { create: false }).catch(ignoreNotDir);
    if (dir === undefined) return;
    const children = new Set(await readdir(under(this.root, dir)));
    const key = dir.join('/');
    for (const device of this.options.record?.devices ?? []) {
      const slash = device.lastIndexOf('/');
      if ((slash === -1 ? '' : device.slice(0, slash)) === key) children.add(device.slice(slash + 1));
    }
    for (const child of children) await this.remove(dir, child);
  }

  /** Remove what a lower layer left at dir/name (this layer's own entries stay). */
  private async remove(dir: string[], name: string): Promise<void> {
    const rel = [...dir, name];
    const key = rel.join('/');
    if (this.written.has(key)) return;
    const path = under(this.root, rel);
    if ((await lstatOrUndefined(path)) === undefined) {
      // A device skipped rootless is only in the record.
      if (!this.asRoot && this.options.record?.devices.has(key))
        await this.options.record.add({ op: 'delete', path: key });
      return;
    }
    await this.touchDir(dir);
    await rm(path, { recursive: true, force: true });
    if (!this.asRoot) await this.options.record?.add({ op: 'delete', path: key });
  }

  /** Remember a directory's times before this layer changes its contents, to put them back. */
  private async touchDir(dir: string[]): Promise<void> {
    const key = dir.join('/');
    if (this.dirTimes.has(key)) return;
    const info = await lstat(under(this.root, dir));
    this.dirTimes.set(key, { atime: info.atimeMs / 1000, mtime: info.mtimeMs / 1000 });
  }

  /** Directory times, deepest first, on the directories still there (never through a link). */
  async finish(): Promise<void> {
    const keys = [...this.dirTimes.keys()].sort((a, b) => depth(b) - depth(a));
    for (const key of keys) {
      const rel = key === '' ? [] : key.split('/');
      const real = await resolveDir(this.root, rel, { create: false }).catch(() => undefined);
      if (real === undefined || real.join('/') !== key) continue;
      const { atime, mtime } = this.dirTimes.get(key)!;
      await lutimes(under(this.root, real), atime, mtime);
    }
  }

  /** An entry's failure names the entry. */
  named(error: unknown, name: string): unknown {
    if (isOcipullError(error) || isAbortError(error)) return error;
    const code = (error as NodeJS.ErrnoException)?.code ?? '';
    const message = `${this.label}: entry ${shown(name)} could not be applied: ${(error as Error)?.message ?? String(error)}`;
    return new OcipullError(NO_SPACE.has(code) ? 'OUTPUT_FAILED' : 'LAYER_INVALID', message, {
      cause: error,
      data: { entry: name.slice(0, 200), errno: code || undefined },
    });
  }

  wrap(error: unknown): unknown {
    if (isOcipullError(error)) return error;
    // The run's signal (Ctrl-C, a caller's abort): the core reports anything not an OcipullError
    // as INTERNAL, so the abort is named here.
    if (isAbortError(error))
      return new OcipullError('INTERRUPTED', `${this.label}: interrupted while it was applied`, {
        cause: error,
      });
    if ((error as NodeJS.ErrnoException)?.code) return this.named(error, '(layer end)');
    return new OcipullError(
      'TAR_INVALID',
      `${this.label} is not a valid tar: ${(error as Error)?.message ?? String(error)}`,
      {
        cause: error,
        hint: 'a layer is a tar archive (plain, or gzip / zstd compressed as its media type says)',
      },
    );
  }
}

/** What a stream says when it was ended under its reader (the cause is elsewhere). */
function isCutShort(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code;
  // Node's streams, and streamx's (tar-stream's entries).
  return (
    code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED' || code === 'STREAM_DESTROYED'
  );
}

const depth = (key: string): number => (key === '' ? 0 : key.split('/').length);

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Make room for a non-directory entry: whatever is there goes (a directory with its contents). */
async function removeAt(path: string): Promise<void> {
  const info = await lstatOrUndefined(path);
  if (info === undefined) return;
  if (info.isDirectory()) await rm(path, { recursive: true, force: true });
  else await unlink(path);
}

/** A whiteout under a path that is no directory hides nothing. */
function ignoreNotDir(error: unknown): undefined {
  if (isOcipullError(error, 'LAYER_INVALID')) return undefined;
  throw error;
}
