import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { isOcipullError, OcipullError, peek, type Unpacked } from 'ocipull';
import tar from 'tar-stream';
import { zstdDecoder } from '../codec-zstd/inprocess.js';
import { checkEntry } from './entry.js';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** How the tar is compressed, by its first bytes (the media type is only a hint: bytes decide). */
function compressionOf(head: Buffer): 'gzip' | 'zstd' | undefined {
  const starts = (magic: number[]) => head.length >= magic.length && magic.every((b, i) => head[i] === b);
  if (starts(GZIP_MAGIC)) return 'gzip';
  if (starts(ZSTD_MAGIC)) return 'zstd';
  return undefined;
}

function asTarError(error: unknown): unknown {
  if (isOcipullError(error) || (error as Error)?.name === 'AbortError') return error;
  return new OcipullError(
    'TAR_INVALID',
    `the tar layer is malformed: ${(error as Error)?.message ?? String(error)}`,
    {
      cause: error,
      hint: 'the layer should be a tar (plain, gzip or zstd) holding exactly one regular file',
    },
  );
}

/**
 * Stream the single regular file out of a tar layer (plain, gzip or zstd), without a temp copy.
 * Resolves once the entry header is read. The returned stream ends only when the whole layer has
 * been read, so a second entry still fails it and the core's digest check sees every byte.
 */
export async function extractSingleFile(input: Readable, signal: AbortSignal): Promise<Unpacked> {
  const { head, stream: raw } = await peek(input, ZSTD_MAGIC.length);
  const compression = compressionOf(head);
  const extract = tar.extract();
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  let entries = 0;
  let handedOut = false;
  let settle!: { resolve: (u: Unpacked) => void; reject: (e: unknown) => void };
  const first = new Promise<Unpacked>((resolve, reject) => {
    settle = { resolve, reject };
  });

  const fail = (error: unknown) => {
    const wrapped = asTarError(error);
    settle.reject(wrapped);
    // Until the stream is handed out nobody listens for its errors: the rejection carries them.
    if (handedOut) out.destroy(wrapped as Error);
    else out.destroy();
    extract.destroy(wrapped as Error);
  };

  extract.on('entry', (header, entry, next) => {
    // Destroying the extractor destroys the entry too; the failure is reported through `fail`.
    entry.on('error', () => {});
    entries++;
    if (entries > 1) {
      entry.resume();
      fail(
        new OcipullError(
          'TAR_MULTIPLE_ENTRIES',
          `the tar layer holds more than one entry (the second is ${JSON.stringify(header.name.slice(0, 200))})`,
          {
            hint: 'a one-file tar layer holds exactly one regular file: the disk',
          },
        ),
      );
      return;
    }
    let name: string;
    try {
      name = checkEntry(header);
    } catch (error) {
      entry.resume();
      fail(error);
      return;
    }
    // Forwarded by hand: streamx's pipe would destroy `out` with the raw error before `fail` names it.
    entry.on('data', (chunk: unknown) => {
      if (!out.write(chunk as Buffer)) entry.pause();
    });
    out.on('drain', () => entry.resume());
    entry.on('end', () => next());
    handedOut = true;
    settle.resolve({ stream: out, name, size: header.size });
  });
  extract.on('finish', () => {
    if (entries === 0) {
      fail(
        new OcipullError('TAR_EMPTY', 'the tar layer holds no entry', {
          hint: 'the layer should hold the disk file',
        }),
      );
    } else {
      out.end();
    }
  });

  const onAbort = () => fail(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  const stages =
    compression === 'gzip'
      ? pipeline(raw, createGunzip(), extract)
      : compression === 'zstd'
        ? pipeline(raw, zstdDecoder(), extract)
        : pipeline(raw, extract);
  stages.then(
    () => signal.removeEventListener('abort', onAbort),
    (error: unknown) => {
      signal.removeEventListener('abort', onAbort);
      if (!out.destroyed) fail(error);
    },
  );
  return first;
}
