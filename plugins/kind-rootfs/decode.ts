/** A layer's stream as its uncompressed tar, by its first bytes (the media type is only a hint). */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { PassThrough, type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { isOcipullError, OcipullError, peek } from 'ocipull';

const GZIP = [0x1f, 0x8b];
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];

const starts = (head: Buffer, magic: number[]) =>
  head.length >= magic.length && magic.every((b, i) => head[i] === b);

/** zstd through the zstd tool (a layer can be gigabytes: bounded memory, back-pressure kept). */
function zstdTool(input: Readable): Readable {
  const child = spawn('zstd', ['-dcq'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  child.on('error', (error) => out.destroy(error));
  pipeline(input, child.stdin).catch((error) => out.destroy(error));
  child.stdout.pipe(out, { end: false });
  child.on('close', (status) => {
    if (status === 0) out.end();
    else
      out.destroy(
        new OcipullError('DECOMPRESS_CORRUPT', `zstd could not decode the layer: ${stderr.trim()}`),
      );
  });
  out.on('close', () => child.kill());
  return out;
}

export async function decodeLayer(input: Readable): Promise<Readable> {
  const { head, stream } = await peek(input, ZSTD.length);
  if (starts(head, GZIP)) {
    const gunzip = createGunzip();
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    // An input failure (a digest mismatch, a reset) reaches gunzip through the pipeline and is
    // handed on as it is; zlib's own (a truncated or corrupt stream) is named as the zstd one is.
    pipeline(stream, gunzip).catch(() => {});
    gunzip.on('error', (error: Error & { errno?: number }) =>
      out.destroy(
        isOcipullError(error) || error.errno === undefined
          ? error
          : new OcipullError('DECOMPRESS_CORRUPT', `gzip could not decode the layer: ${error.message}`, {
              cause: error,
            }),
      ),
    );
    gunzip.pipe(out);
    return out;
  }
  if (starts(head, ZSTD)) return zstdTool(stream);
  return stream;
}

/** Hash what flows through (the uncompressed layer, for the config's diff_ids). */
export function hashing(): Transform & { digest(): string } {
  const hash = createHash('sha256');
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  }) as Transform & { digest(): string };
  transform.digest = () => `sha256:${hash.digest('hex')}`;
  return transform;
}
