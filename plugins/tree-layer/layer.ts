/**
 * A tree as an image layer. The entries (scan.ts) become a tar (tar.ts) that is hashed for the
 * diff ID, compressed, and hashed again for the blob digest while it is written to a temp file:
 * one pass over the tree's bytes, with memory bounded by the stream buffers (the entry list holds
 * metadata only). gzip is node:zlib at a fixed level with no name and a zero mtime in its header;
 * zstd is zstd-napi at a fixed level on one thread; so the same tree (same paths, owners, modes,
 * mtimes, contents, xattrs) packs to the same layer digest every time with the same library
 * versions, and to the same diff ID always.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { type Descriptor, type Logger, OcipullError, type PackLayer } from 'ocipull';
import { CompressStream } from 'zstd-napi';
import { type LayerCodec, layerMediaType, type ManifestFormat } from './media.js';
import { type OwnersHook, scanTree, type TreeEntry } from './scan.js';
import { END_OF_ARCHIVE, encodeHeader, padding } from './tar.js';

export interface LayerOptions {
  /** Default gzip. */
  compress?: LayerCodec;
  /** The manifest format the layer's media type is for (default oci; zstd needs oci). */
  format?: ManifestFormat;
  /** gzip level 1-9 (default 6) or zstd level 1-19 (default 3). */
  level?: number;
  /** Where the blob is staged (the destination's staging directory); default a new temp directory. */
  stagingDir?: string;
  signal?: AbortSignal;
  log?: Logger;
}

export interface TreeLayerOptions extends LayerOptions {
  /** Owner and mode per path from a record (the rootfs kind's rootless record). */
  owners?: OwnersHook;
  /** Read `user.*` xattrs (default: when getfattr is installed). */
  xattrs?: boolean;
}

export interface TreeLayer {
  /** The compressed blob: its media type, digest and size. */
  descriptor: Descriptor;
  /** sha256 of the uncompressed tar (what `rootfs.diff_ids` lists). */
  diffId: string;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
  codec: LayerCodec;
  /** Entries written (whiteouts included). */
  entries: number;
  /** The staged blob (removed by `cleanup`). */
  path: string;
  /** The blob for the core's pack, published as it is. */
  packLayer(): PackLayer;
  cleanup(): Promise<void>;
}

const CHUNK = 1 << 20;

/** An entry the layer carries beside the tree's: a whiteout marker (empty, root-owned, mode 0). */
export function whiteoutEntry(path: string): TreeEntry {
  return { path, type: 'file', mode: 0, uid: 0, gid: 0, mtime: 0, size: 0 };
}

async function* fileContent(entry: TreeEntry, signal?: AbortSignal): AsyncGenerator<Buffer> {
  let read = 0;
  try {
    for await (const chunk of createReadStream(entry.source!, { highWaterMark: CHUNK, signal })) {
      read += (chunk as Buffer).length;
      if (read > entry.size) break;
      yield chunk as Buffer;
    }
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new OcipullError('TREE_INPUT_INVALID', `${entry.source}: ${(error as Error).message}`, {
      hint: 'every file of the tree must be readable (run as its owner, or as root)',
      cause: error,
    });
  }
  if (read !== entry.size) {
    throw new OcipullError(
      'TREE_INPUT_INVALID',
      `${entry.source}: the file changed while it was exported (${entry.size} bytes when listed, ${read > entry.size ? 'more' : read} now)`,
      { hint: 'export a tree nothing writes to while it is read' },
    );
  }
}

/** The tar's bytes, entry by entry. */
async function* tarBytes(entries: Iterable<TreeEntry>, signal?: AbortSignal): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    signal?.throwIfAborted();
    yield encodeHeader({ ...entry, name: entry.path });
    if (entry.type === 'file' && entry.size > 0) {
      yield* fileContent(entry, signal);
      const pad = padding(entry.size);
      if (pad.length > 0) yield pad;
    }
  }
  yield END_OF_ARCHIVE;
}

function compressor(codec: LayerCodec, level: number | undefined): Transform {
  if (codec === 'gzip') return createGzip({ level: level ?? 6, chunkSize: 64 * 1024 });
  if (codec === 'zstd') {
    return new CompressStream({
      compressionLevel: level ?? 3,
      checksumFlag: true,
      nbWorkers: 0,
    }) as unknown as Transform;
  }
  return new PassThrough({ highWaterMark: CHUNK });
}

/** Write `entries` (sorted, as the layer holds them) as a staged layer blob. */
export async function writeLayer(
  entries: Iterable<TreeEntry>,
  options: LayerOptions = {},
): Promise<TreeLayer> {
  const codec = options.compress ?? 'gzip';
  const mediaType = layerMediaType(options.format ?? 'oci', codec);
  let tempRoot: string | undefined;
  let dir = options.stagingDir;
  if (!dir) {
    tempRoot = await fsp.mkdtemp(join(tmpdir(), 'ocipull-layer-'));
    dir = tempRoot;
  } else await fsp.mkdir(dir, { recursive: true });
  const path = join(dir, `.tmp-layer-${randomBytes(6).toString('hex')}`);
  const cleanup = async () => {
    await fsp.rm(path, { force: true });
    if (tempRoot) await fsp.rm(tempRoot, { recursive: true, force: true });
  };
  const diffHash = createHash('sha256');
  const blobHash = createHash('sha256');
  let tarSize = 0;
  let blobSize = 0;
  let count = 0;
  const counted = function* () {
    for (const entry of entries) {
      count++;
      yield entry;
    }
  };
  const tar = Readable.from(
    (async function* () {
      for await (const chunk of tarBytes(counted(), options.signal)) {
        diffHash.update(chunk);
        tarSize += chunk.length;
        yield chunk;
      }
    })(),
    { highWaterMark: 4 },
  );
  try {
    const handle = await fsp.open(path, 'wx', 0o644);
    try {
      await pipeline(
        tar,
        compressor(codec, options.level),
        async (source: AsyncIterable<Buffer>) => {
          for await (const chunk of source) {
            blobHash.update(chunk);
            blobSize += chunk.length;
            await handle.write(chunk);
          }
        },
        { signal: options.signal },
      );
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await cleanup();
    if (error instanceof OcipullError) throw error;
    if ((error as Error).name === 'AbortError') throw error;
    throw new OcipullError(
      'OUTPUT_FAILED',
      `staging the layer in ${dir} failed: ${(error as Error).message}`,
      {
        hint: 'the staging directory must be writable with room for the compressed layer',
        cause: error,
      },
    );
  }
  const descriptor: Descriptor = { mediaType, digest: `sha256:${blobHash.digest('hex')}`, size: blobSize };
  return {
    descriptor,
    diffId: `sha256:${diffHash.digest('hex')}`,
    tarSize,
    codec,
    entries: count,
    path,
    packLayer: () => ({ path, codec, asIs: true, mediaType }),
    cleanup,
  };
}

/** The layer of the whole tree at `dir`. */
export async function treeLayer(dir: string, options: TreeLayerOptions = {}): Promise<TreeLayer> {
  layerMediaType(options.format ?? 'oci', options.compress ?? 'gzip');
  const entries = await scanTree(dir, options);
  return writeLayer(entries, options);
}
