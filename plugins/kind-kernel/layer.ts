import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

/**
 * A package layer: an uncompressed tar holding one file at `path`, owner 0:0, mode 0644, every
 * timestamp zero, so the same file always makes the same layer digest (kraftkit zeroes them too).
 */
export function fileLayer(file: string, path: string, size: number): () => Promise<Readable> {
  return async () => {
    const pack = tar.pack();
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    pack.pipe(out);
    const entry = pack.entry({
      name: path,
      size,
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: new Date(0),
      type: 'file',
    });
    pipeline(createReadStream(file), entry).then(
      () => pack.finalize(),
      (error: unknown) => out.destroy(error as Error),
    );
    return out;
  };
}

/** sha256 and size of what `open` produces: the layer's digest is its diff ID (it is uncompressed). */
export async function digestOf(open: () => Promise<Readable>): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of await open()) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** The size of a regular file, or undefined when `path` is not one. */
export async function regularFileSize(path: string): Promise<number | undefined> {
  try {
    const stat = await fsp.stat(path);
    return stat.isFile() ? stat.size : undefined;
  } catch {
    return undefined;
  }
}
