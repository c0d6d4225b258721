/** Helpers of the rootfs suites: a tree's listing, hand-made tar headers, a sentinel around a target. */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createOrchestrator, type OrchestratorSetup, type PullResult } from 'ocipull';

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

/** One layer of a layout written by code: a tar, stored gzip-compressed (default) or as it is. */
export interface LayoutLayer {
  /** The uncompressed tar (its digest is the config's diff_id). */
  tar: Buffer;
  compress?: 'gzip' | 'none';
  /** The blob stored instead of the tar compressed (a corrupt one), with this media type. */
  blob?: { bytes: Buffer; mediaType: string };
}

/**
 * An OCI image layout (image-layout.md) tagged `tag`: one image manifest whose layers are
 * `layers` and whose config lists their diff_ids (or `diffIds`, to make a wrong one).
 * Returns the layout and the blob file of each layer, in order.
 */
export async function writeImageLayout(
  dir: string,
  layers: readonly LayoutLayer[],
  options: { tag?: string; diffIds?: string[] } = {},
): Promise<{ layout: string; blobs: string[]; manifest: string; config: string }> {
  const blobDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  const sha = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const put = async (bytes: Buffer, mediaType: string) => {
    const digest = sha(bytes);
    await writeFile(join(blobDir, digest.slice(7)), bytes);
    return { mediaType, digest, size: bytes.length };
  };
  const layerDescriptors = [];
  for (const layer of layers) {
    layerDescriptors.push(
      layer.blob
        ? await put(layer.blob.bytes, layer.blob.mediaType)
        : layer.compress === 'none'
          ? await put(layer.tar, 'application/vnd.oci.image.layer.v1.tar')
          : await put(gzipSync(layer.tar), 'application/vnd.oci.image.layer.v1.tar+gzip'),
    );
  }
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: options.diffIds ?? layers.map((l) => sha(l.tar)) },
    }),
  );
  const config = await put(configBytes, 'application/vnd.oci.image.config.v1+json');
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config,
      layers: layerDescriptors,
    }),
  );
  const manifest = await put(manifestBytes, 'application/vnd.oci.image.manifest.v1+json');
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        { ...manifest, annotations: { 'org.opencontainers.image.ref.name': options.tag ?? 'test' } },
      ],
    }),
  );
  const blob = (digest: string) => join(blobDir, digest.slice(7));
  return {
    layout: dir,
    blobs: layerDescriptors.map((d) => blob(d.digest)),
    manifest: blob(manifest.digest),
    config: blob(config.digest),
  };
}

/** What {@link pullRootfs} takes: the source, the output, and settings laid over the defaults. */
export interface RootfsPull {
  source: string;
  output: string;
  /** The working directory (config search is off); the cache is `cwd/cache` unless `cacheDir`. */
  cwd: string;
  cacheDir?: string;
  /** `kinds.rootfs` settings (format, size, limits, asRoot). */
  rootfs?: Record<string, unknown>;
  /** Other orchestrator options (arch, os, variant, tlsVerify, ...). */
  options?: Record<string, unknown>;
  /** Warnings logged during the pull are pushed here. */
  warnings?: string[];
  signal?: AbortSignal;
}

/**
 * A pull of the rootfs kind through the library: `createOrchestrator` with `kind: 'rootfs'` (the
 * base preset has the plugin) and the `kinds.rootfs` settings in the same options.
 */
export async function pullRootfs(request: RootfsPull): Promise<PullResult> {
  const warnings = request.warnings ?? [];
  const log = {
    level: 'warn' as const,
    warn: (message: string) => warnings.push(message),
    error() {},
    info() {},
    debug() {},
    redact: (text: string) => text,
  };
  const ocipull = await createOrchestrator({
    cwd: request.cwd,
    configFile: false,
    kind: 'rootfs',
    cacheDir: request.cacheDir ?? join(request.cwd, 'cache'),
    log,
    ...request.options,
    ...(request.rootfs ? { kinds: { rootfs: request.rootfs } } : {}),
  } as OrchestratorSetup);
  return ocipull.pull({ source: request.source, output: request.output, signal: request.signal });
}
