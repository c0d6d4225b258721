import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  builtinCodecs,
  type CodecInfo,
  type CodecRegistry,
  isOcipullError,
  OcipullError,
  peek,
  type Unpacked,
} from 'ocipull';
import tar from 'tar-stream';
import { checkEntry } from './entry.js';

/**
 * The codec the tar is compressed with, by its first bytes (the media type is only a hint: bytes
 * decide): a registered codec with a stream decoder; undefined for a plain tar.
 */
function compressionOf(head: Buffer, codecs: CodecRegistry): CodecInfo | undefined {
  const codec = codecs.ofBytes(head);
  return codec?.decodeStream ? codec : undefined;
}

function asTarError(error: unknown): unknown {
  if (isOcipullError(error) || (error as Error)?.name === 'AbortError') return error;
  return new OcipullError(
    'TAR_INVALID',
    `the tar layer is malformed: ${(error as Error)?.message ?? String(error)}`,
    {
      cause: error,
      hint: 'the layer should be a tar (plain, or compressed with a registered codec such as gzip or zstd) holding exactly one regular file',
    },
  );
}

/**
 * Stream the single regular file out of a tar layer (plain, or compressed with a codec of
 * `codecs` that has a stream decoder: gzip, zstd, ...), without a temp copy. Resolves once the
 * entry header is read. The returned stream ends only when the whole layer has been read, so a
 * second entry still fails it and the core's digest check sees every byte. A damaged compressed
 * layer fails with the codec's code (DECOMPRESS_TRUNCATED, ...). Without `codecs`: the built-in codecs.
 */
export async function extractSingleFile(
  input: Readable,
  signal: AbortSignal,
  codecs?: CodecRegistry,
): Promise<Unpacked> {
  const registry = codecs ?? (await builtinCodecs());
  const magicBytes = Math.max(1, ...registry.list().flatMap((c) => c.magic.map((m) => m.length)));
  const { head, stream: raw } = await peek(input, magicBytes);
  const compression = compressionOf(head, registry);
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
  const stages = compression?.decodeStream
    ? pipeline(raw, compression.decodeStream(), extract)
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
