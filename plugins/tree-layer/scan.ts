/**
 * Reading a tree into the entries of a layer: every path under the root (the root itself as `.`),
 * sorted bytewise by path, each with its type, owner, mode, mtime in seconds, size, link target,
 * device numbers and `user.*` xattrs. Regular files sharing an inode become one file (the first
 * path in that order) and hardlinks to it. Sockets cannot live in a tar and are left out (with a
 * warning). An owners record (the rootfs kind's rootless record) may override owner and mode, and
 * turn a placeholder into the device or FIFO it stands for.
 */
import { promises as fsp } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Logger, OcipullError } from 'ocipull';
import type { TarType } from './tar.js';
import { hasGetfattr, readUserXattrs, type XattrTable } from './xattrs.js';

/** What an owners record says about one path (undefined: what `lstat` says). */
export interface OwnerRecord {
  uid: number;
  gid: number;
  /** Permission bits with setuid, setgid and sticky (the type bits are ignored). */
  mode: number;
  /** The path is a placeholder for this device or FIFO (a rootless unpack cannot mknod). */
  device?: { type: 'char' | 'block' | 'fifo'; major?: number; minor?: number };
  /** Seconds; the entry's mtime when it is not on disk (a recorded device). */
  mtime?: number;
}

/** Called with each layer path (`.` for the root, else `etc/passwd`, no leading `./`). */
export type OwnersHook = (path: string) => OwnerRecord | undefined;

export interface TreeEntry {
  /** The layer path: `.` for the root, else relative and `/`-separated. */
  path: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  /** Symlink target, or the first path of a hardlinked file (type `link`). */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
  /** Where the content is read from (regular files). */
  source?: string;
  /** `dev:ino` of a regular file with more than one link. */
  inode?: string;
}

export interface ScanOptions {
  owners?: OwnersHook;
  /**
   * Paths the owners record holds but the tree does not (devices a rootless unpack could not
   * make): each becomes the device `owners` describes, under a directory of the tree.
   */
  absent?: readonly string[];
  /** `true`: read `user.*` xattrs (getfattr needed); `false`: none; default: when getfattr is installed. */
  xattrs?: boolean;
  signal?: AbortSignal;
  log?: Logger;
}

/** The byte order of UTF-8 paths (what `LC_ALL=C sort` gives). */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Linux `dev_t` → major, minor (glibc's encoding). */
export function splitDevice(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

const S_IFMT = 0o170000n;
const TYPES: Record<string, TarType | 'socket'> = {
  [String(0o100000)]: 'file',
  [String(0o040000)]: 'directory',
  [String(0o120000)]: 'symlink',
  [String(0o020000)]: 'char',
  [String(0o060000)]: 'block',
  [String(0o010000)]: 'fifo',
  [String(0o140000)]: 'socket',
};

function invalid(message: string, hint: string, cause?: unknown): OcipullError {
  return new OcipullError('TREE_INPUT_INVALID', message, { hint, cause });
}

/** Whether a name is a whiteout marker, which a layer cannot carry as a file. */
export const isWhiteoutName = (name: string) => name.startsWith('.wh.');

async function entryOf(
  root: string,
  path: string,
  options: ScanOptions,
  xattrs: XattrTable,
): Promise<TreeEntry | undefined> {
  const full = path === '.' ? root : join(root, path);
  const recorded = options.absent?.includes(path) ? options.owners?.(path) : undefined;
  if (recorded?.device) {
    const { type, major, minor } = recorded.device;
    return {
      path,
      type,
      mode: recorded.mode & 0o7777,
      uid: recorded.uid,
      gid: recorded.gid,
      mtime: recorded.mtime ?? 0,
      size: 0,
      ...(type !== 'fifo' && { devmajor: major ?? 0, devminor: minor ?? 0 }),
    };
  }
  const st = await fsp.lstat(full, { bigint: true });
  const type = TYPES[String(st.mode & S_IFMT)];
  if (type === undefined || type === 'socket') {
    options.log?.warn(`${full}: a ${type ?? 'special file'} cannot be carried by a layer; left out`);
    return undefined;
  }
  const entry: TreeEntry = {
    path,
    type,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime:
      Number(st.mtimeNs / 1_000_000_000n) - (st.mtimeNs < 0n && st.mtimeNs % 1_000_000_000n !== 0n ? 1 : 0),
    size: type === 'file' ? Number(st.size) : 0,
  };
  if (type === 'file') {
    entry.source = full;
    if (st.nlink > 1n) entry.inode = `${st.dev}:${st.ino}`;
  } else if (type === 'symlink') {
    entry.linkname = await fsp.readlink(full, 'utf8');
  } else if (type === 'char' || type === 'block') {
    const { major, minor } = splitDevice(st.rdev);
    entry.devmajor = major;
    entry.devminor = minor;
  }
  const found = xattrs.get(full);
  if (found && found.size > 0) entry.xattrs = found;
  const record = options.owners?.(path);
  if (record) {
    entry.uid = record.uid;
    entry.gid = record.gid;
    entry.mode = record.mode & 0o7777;
    if (record.device) {
      entry.type = record.device.type;
      entry.size = 0;
      delete entry.source;
      delete entry.inode;
      if (record.device.type !== 'fifo') {
        entry.devmajor = record.device.major ?? 0;
        entry.devminor = record.device.minor ?? 0;
      }
    }
  }
  return entry;
}

/** Every path under `root` (relative, unsorted), refusing names a layer cannot carry. */
async function listPaths(root: string, signal?: AbortSignal): Promise<string[]> {
  const paths: string[] = ['.'];
  const pending: string[] = ['.'];
  while (pending.length > 0) {
    signal?.throwIfAborted();
    const dir = pending.pop()!;
    const full = dir === '.' ? root : join(root, dir);
    for (const dirent of await fsp.readdir(full, { withFileTypes: true, encoding: 'buffer' })) {
      const raw = dirent.name as unknown as Buffer;
      const name = raw.toString('utf8');
      if (!Buffer.from(name, 'utf8').equals(raw)) {
        throw invalid(
          `${full}: the name ${JSON.stringify(raw.toString('latin1'))} is not UTF-8`,
          'rename it to a UTF-8 name: layer paths are UTF-8',
        );
      }
      const path = dir === '.' ? name : `${dir}/${name}`;
      if (isWhiteoutName(name)) {
        throw invalid(
          `${join(root, path)}: a name starting with .wh. is a whiteout marker in a layer`,
          'rename or remove it: layers cannot carry such names as files',
        );
      }
      paths.push(path);
      if (dirent.isDirectory()) pending.push(path);
    }
  }
  return paths;
}

/** The entries of the tree at `root`, sorted bytewise by path, hardlinks resolved. */
export async function scanTree(dir: string, options: ScanOptions = {}): Promise<TreeEntry[]> {
  // Absolute, so the paths getfattr prints are the ones looked up.
  const root = resolve(dir);
  try {
    const st = await fsp.stat(root);
    if (!st.isDirectory()) throw new Error('not a directory');
  } catch (error) {
    throw invalid(
      `${root}: ${(error as Error).message}`,
      'the tree to export must be a readable directory',
      error,
    );
  }
  const useXattrs = options.xattrs ?? hasGetfattr();
  if (options.xattrs === undefined && !useXattrs) {
    options.log?.warn('getfattr is not installed: the layer carries no xattrs (Debian: apt install attr)');
  }
  let paths: string[];
  let xattrs: XattrTable;
  try {
    paths = await listPaths(root, options.signal);
    if (options.absent?.length) {
      const found = new Set(paths);
      for (const path of options.absent) if (!found.has(path)) paths.push(path);
    }
    xattrs = useXattrs ? await readUserXattrs(root, options.signal) : new Map();
  } catch (error) {
    if (error instanceof OcipullError) throw error;
    throw invalid(
      `${root}: ${(error as Error).message}`,
      'every directory of the tree must be readable',
      error,
    );
  }
  const keyed = paths.map((path) => ({ path, key: Buffer.from(path, 'utf8') }));
  keyed.sort((a, b) => (a.path === '.' ? -1 : b.path === '.' ? 1 : Buffer.compare(a.key, b.key)));
  const entries: TreeEntry[] = [];
  const firstOfInode = new Map<string, string>();
  for (const { path } of keyed) {
    let entry: TreeEntry | undefined;
    try {
      entry = await entryOf(root, path, options, xattrs);
    } catch (error) {
      throw invalid(
        `${join(root, path)}: ${(error as Error).message}`,
        'the tree must not change while it is exported',
        error,
      );
    }
    if (!entry) continue;
    if (entry.inode) {
      const first = firstOfInode.get(entry.inode);
      if (first === undefined) firstOfInode.set(entry.inode, path);
      else {
        entry.type = 'link';
        entry.linkname = first;
        entry.size = 0;
        delete entry.source;
        delete entry.xattrs;
      }
    }
    entries.push(entry);
  }
  return entries;
}
