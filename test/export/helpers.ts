/**
 * Helpers of the tree-export tests: OCI layouts written by hand (image-layout.md), a tree's
 * observable state taken with lstat, getfattr and sha256 (nothing of plugins/tree-layer), and the
 * real umoci and skopeo.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Descriptor } from 'ocipull';
import tar from 'tar-stream';
import { run } from '../support/disks.js';

export { run };

export const isRoot = process.getuid?.() === 0;

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

export interface LayoutImage {
  /** Blobs as files (moved or copied in) or bytes. */
  blobs: ({ path: string; digest: string } | { bytes: Buffer })[];
  config: Buffer;
  manifest: Buffer;
  manifestMediaType: string;
}

/** Add an image under `tag` to the OCI layout at `dir` (created when missing). */
export async function writeLayoutImage(dir: string, tag: string, image: LayoutImage): Promise<Descriptor> {
  const blobs = join(dir, 'blobs', 'sha256');
  await fsp.mkdir(blobs, { recursive: true });
  await fsp.writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const put = async (bytes: Buffer) => {
    const digest = sha256(bytes);
    await fsp.writeFile(join(blobs, digest.slice(7)), bytes);
    return { digest, size: bytes.length };
  };
  for (const blob of image.blobs) {
    if ('bytes' in blob) await put(blob.bytes);
    else await fsp.copyFile(blob.path, join(blobs, blob.digest.slice(7)));
  }
  await put(image.config);
  const manifest = { mediaType: image.manifestMediaType, ...(await put(image.manifest)) };
  let index: { schemaVersion: number; manifests: Descriptor[] } = { schemaVersion: 2, manifests: [] };
  try {
    index = JSON.parse(await fsp.readFile(join(dir, 'index.json'), 'utf8'));
  } catch {}
  index.manifests = index.manifests.filter(
    (m) => m.annotations?.['org.opencontainers.image.ref.name'] !== tag,
  );
  index.manifests.push({ ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } });
  await fsp.writeFile(join(dir, 'index.json'), JSON.stringify(index));
  return manifest;
}

/** The manifest and config under `tag` of a layout (read by hand). */
export async function readLayoutImage(
  dir: string,
  tag: string,
): Promise<{ manifest: { layers: Descriptor[]; config: Descriptor }; config: Buffer }> {
  const index = JSON.parse(await fsp.readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: Descriptor[];
  };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new Error(`no tag ${tag} in ${dir}`);
  const blob = (d: string) => fsp.readFile(join(dir, 'blobs', 'sha256', d.slice(7)));
  const manifest = JSON.parse((await blob(entry.digest)).toString('utf8'));
  return { manifest, config: await blob(manifest.config.digest) };
}

/** `umoci unpack` of LAYOUT:TAG into BUNDLE; the tree is BUNDLE/rootfs. */
export async function umociUnpack(layout: string, tag: string, bundle: string): Promise<string> {
  await run('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
  return join(bundle, 'rootfs');
}

/** One path of a tree as seen from outside. */
export interface Observed {
  path: string;
  type: string;
  mode: string;
  owner?: string;
  mtime: number;
  size?: number;
  content?: string;
  link?: string;
  device?: string;
  /** The other paths sharing this file's inode. */
  hardlinks?: string;
}

const TYPE_NAMES: [number, string][] = [
  [0o100000, 'file'],
  [0o040000, 'directory'],
  [0o120000, 'symlink'],
  [0o020000, 'char'],
  [0o060000, 'block'],
  [0o010000, 'fifo'],
];

/** Every path of `root` (`.` included) with what it is, sorted; owners only when we are root. */
export async function observeTree(root: string, options: { owners?: boolean } = {}): Promise<Observed[]> {
  const owners = options.owners ?? isRoot;
  const out: Observed[] = [];
  const inodes = new Map<string, string[]>();
  const walk = async (rel: string) => {
    const full = rel === '.' ? root : join(root, rel);
    const st = await fsp.lstat(full, { bigint: true });
    const type = TYPE_NAMES.find(([bits]) => (Number(st.mode) & 0o170000) === bits)?.[1] ?? 'other';
    const item: Observed = {
      path: rel,
      type,
      mode: (Number(st.mode) & 0o7777).toString(8),
      mtime: Number(st.mtimeNs / 1_000_000_000n),
    };
    if (owners) item.owner = `${st.uid}:${st.gid}`;
    if (type === 'file') {
      item.size = Number(st.size);
      item.content = await sha256File(full);
      if (st.nlink > 1n) {
        const key = `${st.dev}:${st.ino}`;
        inodes.set(key, [...(inodes.get(key) ?? []), rel]);
        (item as Observed & { inode?: string }).inode = key;
      }
    }
    if (type === 'symlink') item.link = await fsp.readlink(full);
    if (type === 'char' || type === 'block') item.device = String(st.rdev);
    out.push(item);
    if (type === 'directory')
      for (const name of await fsp.readdir(full)) await walk(rel === '.' ? name : `${rel}/${name}`);
  };
  await walk('.');
  for (const item of out as (Observed & { inode?: string })[]) {
    if (item.inode) {
      item.hardlinks = inodes
        .get(item.inode)!
        .filter((p) => p !== item.path)
        .sort()
        .join(',');
      delete item.inode;
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The `user.*` xattrs of every file of `root`, by relative path (getfattr, text values). */
export async function observeXattrs(root: string): Promise<Record<string, string[]>> {
  const text = await run('getfattr', ['-R', '-P', '-h', '-d', '-m', '^user\\.', '-e', 'hex', root]);
  const out: Record<string, string[]> = {};
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n').filter(Boolean);
    const head = lines.shift();
    if (!head?.startsWith('# file: ')) continue;
    const abs = `/${head.slice(8)}`.replace(/^\/+/, '/');
    const rel = abs === root ? '.' : abs.slice(root.replace(/\/$/, '').length + 1);
    out[rel] = lines.sort();
  }
  return out;
}

export interface TarListing {
  name: string;
  type: string;
  linkname?: string | null;
  pax?: Record<string, string>;
  size: number;
}

/** The entries of an uncompressed tar, in order. */
export async function listTar(bytes: Buffer): Promise<TarListing[]> {
  const extract = tar.extract();
  const entries: TarListing[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      entries.push({
        name: h.name,
        type: h.type ?? 'file',
        linkname: h.linkname,
        pax: (h.pax as Record<string, string> | undefined) ?? undefined,
        size: h.size ?? 0,
      });
      entry.resume();
    }
  })();
  extract.end(bytes);
  await done;
  return entries;
}

/** The uncompressed bytes of a layer blob, by the real tools. */
export async function decompressed(path: string, codec: 'gzip' | 'zstd' | 'none'): Promise<Buffer> {
  if (codec === 'none') return fsp.readFile(path);
  const out = `${path}.tar`;
  await run(codec, ['-d', '-c', path], out);
  const bytes = await fsp.readFile(out);
  await fsp.rm(out);
  return bytes;
}

/** Set the mtime (and an unrelated atime) of every path under `root`, children before parents. */
export async function fixMtimes(root: string, seconds: number): Promise<void> {
  const visit = async (full: string, depth: number) => {
    const st = await fsp.lstat(full);
    if (st.isDirectory())
      for (const name of await fsp.readdir(full)) await visit(join(full, name), depth + 1);
    const mtime = seconds + depth * 3600 + (st.size % 97);
    await fsp.lutimes(full, 1_000_000 + depth, mtime);
  };
  await visit(root, 0);
}

export const LONG_NAME = `${'n'.repeat(120)}.conf`;
export const DEEP_DIR = ['deep', 'a'.repeat(60), 'b'.repeat(60)].join('/');

/**
 * A tree with every kind of entry a layer carries: files (empty, multi-MiB, setuid), directories
 * (sticky), symlinks (short, long, dangling), a hardlink group of three, a FIFO and a character
 * device made inside the tree, names longer than the ustar fields, a UTF-8 name, owners (one past
 * the ustar range), `user.*` xattrs (text and binary), fixed mtimes.
 */
export async function makeRichTree(root: string, seed = 1): Promise<void> {
  const file = async (rel: string, data: Buffer | string, mode = 0o644) => {
    await fsp.mkdir(join(root, rel, '..'), { recursive: true });
    await fsp.writeFile(join(root, rel), data);
    await fsp.chmod(join(root, rel), mode);
  };
  const random = (n: number, s: number) => {
    const out = Buffer.alloc(n);
    let x = s * 2654435761;
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      out[i] = x >>> 24;
    }
    return out;
  };
  await fsp.mkdir(root, { recursive: true });
  await file('etc/os-release', `ID=ocipull-test\nSEED=${seed}\n`);
  await file('etc/empty', '');
  await file('usr/bin/tool', random(300_000, seed), 0o4755);
  await file('usr/lib/big.bin', random(3 * 1024 * 1024 + 17, seed + 1));
  await file('données-é.txt', 'utf-8 name\n');
  await file(`${DEEP_DIR}/${LONG_NAME}`, 'a long path\n', 0o600);
  await fsp.link(join(root, 'usr/bin/tool'), join(root, 'usr/bin/tool-link'));
  await fsp.link(join(root, 'usr/bin/tool'), join(root, 'a-first-link'));
  await fsp.symlink('../usr/bin/tool', join(root, 'etc/alt'));
  await fsp.symlink('/nowhere/at/all', join(root, 'etc/dangling'));
  await fsp.symlink(`../${DEEP_DIR}/${LONG_NAME}`, join(root, 'etc/long-link'));
  await fsp.mkdir(join(root, 'tmp'), { mode: 0o755 });
  await fsp.chmod(join(root, 'tmp'), 0o1777);
  await fsp.mkdir(join(root, 'dev'));
  await run('mkfifo', [join(root, 'dev/fifo')]);
  if (isRoot) {
    await run('mknod', [join(root, 'dev/zero'), 'c', '1', '5']);
    await fsp.mkdir(join(root, 'home/user'), { recursive: true });
    await file('home/user/.profile', 'export A=1\n');
    await fsp.chown(join(root, 'home/user'), 1000, 1000);
    await fsp.chown(join(root, 'home/user/.profile'), 1000, 100);
    await file('srv/far-owner', 'uid past 2097151\n');
    await fsp.chown(join(root, 'srv/far-owner'), 4_000_000, 4_000_001);
  }
  await run('setfattr', ['-n', 'user.comment', '-v', 'hello xattr', join(root, 'etc/os-release')]);
  await run('setfattr', ['-n', 'user.binary', '-v', '0x00ff10fe', join(root, 'usr/lib/big.bin')]);
  await run('setfattr', ['-n', 'user.dir', '-v', 'on a directory', join(root, 'etc')]);
  await fsp.chmod(root, 0o755);
  await fixMtimes(root, 1_600_000_000 + seed);
}

/** An image in skopeo's `dir:` format (manifest.json, version, blobs named by their sha256 hex). */
export async function writeDirImage(dir: string, image: LayoutImage): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(join(dir, 'version'), 'Directory Transport Version: 1.1\n');
  for (const blob of image.blobs) {
    if ('bytes' in blob) await fsp.writeFile(join(dir, sha256(blob.bytes).slice(7)), blob.bytes);
    else await fsp.copyFile(blob.path, join(dir, blob.digest.slice(7)));
  }
  await fsp.writeFile(join(dir, sha256(image.config).slice(7)), image.config);
  await fsp.writeFile(join(dir, 'manifest.json'), image.manifest);
}
