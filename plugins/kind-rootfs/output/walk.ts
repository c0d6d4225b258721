/** A walk over a built tree with the image's metadata: the disk's, overridden by the rootless record. */
import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntryMeta, EntryType } from '../apply/record.js';

export interface TreeEntry {
  /** Relative, `/`-joined; `''` is the root. */
  path: string;
  meta: EntryMeta;
  /** Seconds. */
  mtime: number;
  size: number;
  /** On disk (false: a device kept only in the record). */
  onDisk: boolean;
  /** The first path of this entry's hardlink group, when it is not that path. */
  linkTo?: string;
}

function typeOf(info: Stats): EntryType | undefined {
  if (info.isFile()) return 'file';
  if (info.isDirectory()) return 'directory';
  if (info.isSymbolicLink()) return 'symlink';
  if (info.isFIFO()) return 'fifo';
  if (info.isCharacterDevice()) return 'char';
  if (info.isBlockDevice()) return 'block';
  return undefined;
}

/** Linux's encoding of a device number (glibc's gnu_dev_major / gnu_dev_minor). */
export function splitRdev(rdev: number): [number, number] {
  const big = BigInt(rdev);
  const major = Number(((big >> 8n) & 0xfffn) | ((big >> 32n) & ~0xfffn));
  const minor = Number((big & 0xffn) | ((big >> 12n) & ~0xffn));
  return [major, minor];
}

/**
 * Every entry of the tree, parents before children, names sorted; the record's devices that are
 * not on disk come in their directory. Sockets are left out (a layer cannot hold one).
 */
export async function* walkTree(root: string, record: Map<string, EntryMeta>): AsyncGenerator<TreeEntry> {
  const inodes = new Map<string, string>();
  const recordOnly = new Map<string, string[]>();
  for (const [path, meta] of record) {
    if (meta.type !== 'char' && meta.type !== 'block') continue;
    const slash = path.lastIndexOf('/');
    const parent = slash === -1 ? '' : path.slice(0, slash);
    recordOnly.set(parent, [...(recordOnly.get(parent) ?? []), path.slice(slash + 1)]);
  }
  async function* visit(path: string): AsyncGenerator<TreeEntry> {
    const full = path === '' ? root : join(root, path);
    const info = await lstat(full);
    const type = typeOf(info);
    if (type === undefined) return;
    const meta: EntryMeta = record.get(path) ?? {
      type,
      mode: info.mode & 0o7777,
      uid: info.uid,
      gid: info.gid,
    };
    const entry: TreeEntry = {
      path,
      meta: { ...meta, type, ...(type === 'char' || type === 'block' ? { rdev: splitRdev(info.rdev) } : {}) },
      mtime: info.mtimeMs / 1000,
      size: type === 'file' ? info.size : 0,
      onDisk: true,
    };
    if (type !== 'directory' && info.nlink > 1) {
      const key = `${info.dev}:${info.ino}`;
      const first = inodes.get(key);
      if (first === undefined) inodes.set(key, path);
      else entry.linkTo = first;
    }
    yield entry;
    if (type !== 'directory') return;
    const names = new Set(await readdir(full));
    const devices = (recordOnly.get(path) ?? []).filter((n) => !names.has(n));
    for (const name of [...names, ...devices].sort()) {
      const child = path === '' ? name : `${path}/${name}`;
      if (names.has(name)) yield* visit(child);
      else {
        const meta = record.get(child)!;
        yield { path: child, meta, mtime: meta.mtime ?? 0, size: 0, onDisk: false };
      }
    }
  }
  yield* visit('');
}
