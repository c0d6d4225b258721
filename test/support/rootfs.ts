/** Helpers of the rootfs suites: a tree's listing, hand-made tar headers, a sentinel around a target. */
import { lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TreeNode {
  type: 'file' | 'directory' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  mtime?: number;
  content?: string;
  target?: string;
  ino: number;
  nlink: number;
  rdev?: number;
}

/** Every path under `root` (relative, `/`-joined) with what lstat says and file contents (sha-free: small trees). */
export async function listTree(root: string): Promise<Map<string, TreeNode>> {
  const out = new Map<string, TreeNode>();
  async function walk(rel: string): Promise<void> {
    const full = rel === '' ? root : join(root, rel);
    const info = await lstat(full);
    const type = info.isFile()
      ? 'file'
      : info.isDirectory()
        ? 'directory'
        : info.isSymbolicLink()
          ? 'symlink'
          : info.isFIFO()
            ? 'fifo'
            : info.isCharacterDevice()
              ? 'char'
              : info.isBlockDevice()
                ? 'block'
                : 'socket';
    const node: TreeNode = {
      type,
      mode: info.mode & 0o7777,
      uid: info.uid,
      gid: info.gid,
      ino: info.ino,
      nlink: info.nlink,
      mtime: Math.floor(info.mtimeMs / 1000),
    };
    if (type === 'file') {
      node.size = info.size;
      node.content = (await readFile(full)).toString('base64');
    }
    if (type === 'symlink') node.target = await readlink(full);
    if (type === 'char' || type === 'block') node.rdev = info.rdev;
    out.set(rel, node);
    if (type === 'directory') {
      for (const name of (await readdir(full)).sort()) await walk(rel === '' ? name : `${rel}/${name}`);
    }
  }
  await walk('');
  return out;
}

/** A directory of files that must stay as they are, beside a target that hostile layers aim out of. */
export async function makeSentinel(dir: string): Promise<() => Promise<string[]>> {
  await mkdir(join(dir, 'sub'), { recursive: true });
  await writeFile(join(dir, 'secret'), 'secret');
  await writeFile(join(dir, 'sub', 'keep'), 'keep');
  const before = await listTree(dir);
  /** What changed in the sentinel: paths added, removed or altered (an empty list when intact). */
  return async () => {
    const after = await listTree(dir);
    const changed: string[] = [];
    for (const [path, node] of after) {
      const old = before.get(path);
      if (!old) changed.push(`+${path}`);
      else if (path !== '' && JSON.stringify({ ...old, mtime: 0 }) !== JSON.stringify({ ...node, mtime: 0 }))
        changed.push(`~${path}`);
    }
    for (const path of before.keys()) if (!after.has(path)) changed.push(`-${path}`);
    return changed;
  };
}

/** A ustar header block for `name` of `type` (a tar-stream type flag character) and `size`. */
export function rawHeader(name: string, typeflag: string, size: number): Buffer {
  const block = Buffer.alloc(512);
  block.write(name.slice(0, 100), 0, 'utf8');
  block.write('0000644\0', 100);
  block.write('0000000\0', 108);
  block.write('0000000\0', 116);
  block.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  block.write('00000000000\0', 136);
  block.write('        ', 148);
  block.write(typeflag, 156);
  block.write('ustar\u000000', 257, 'binary');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return block;
}

/** A GNU long-name record (type L) carrying `name` for the entry that follows it. */
export function gnuLongName(name: string): Buffer {
  const data = Buffer.from(`${name}\0`);
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(padded);
  return Buffer.concat([rawHeader('././@LongLink', 'L', data.length), padded]);
}

export type Shape = Omit<TreeNode, 'ino' | 'nlink'> & { links?: string };

/** A tree as comparable data: inode numbers become hardlink groups (the paths sharing one). */
export function shapeOf(tree: Map<string, TreeNode>): Map<string, Shape> {
  const groups = new Map<number, string[]>();
  for (const [path, node] of tree) {
    if (node.type !== 'directory' && node.nlink > 1)
      groups.set(node.ino, [...(groups.get(node.ino) ?? []), path]);
  }
  const out = new Map<string, Shape>();
  for (const [path, node] of tree) {
    const { ino, nlink: _nlink, ...rest } = node;
    const group = groups.get(ino);
    out.set(path, group && node.type !== 'directory' ? { ...rest, links: group.sort().join(' ') } : rest);
  }
  return out;
}

export function diffShapes(ours: Map<string, Shape>, theirs: Map<string, Shape>): string[] {
  const out: string[] = [];
  for (const [path, shape] of theirs) {
    const mine = ours.get(path);
    if (!mine) out.push(`missing ${path}`);
    else if (JSON.stringify(mine) !== JSON.stringify(shape))
      out.push(`${path}: ours ${JSON.stringify(mine)} umoci ${JSON.stringify(shape)}`);
  }
  for (const path of ours.keys()) if (!theirs.has(path)) out.push(`extra ${path}`);
  return out;
}
