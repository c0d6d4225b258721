import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { OcipullError } from '../errors/errors.js';
import { DigestVerifier } from '../oci/digest.js';
import type { Orchestrator } from '../orchestrator.js';
import type { CacheWriter, Descriptor, FetchResponse, Source } from '../types.js';
import { pauseAt } from './pause.js';
import { fetchRanges, wantsRanges } from './ranges.js';
import { isTransient } from './transient.js';

export { isTransient } from './transient.js';

export interface BlobStreamOptions {
  orchestrator: Orchestrator;
  source: Source;
  descriptor: Descriptor;
  signal: AbortSignal;
  /** Cache writer of a miss: its partial is replayed first, network bytes are appended to it. */
  writer?: CacheWriter;
  /** Called with the count of bytes read from the source (not from a replayed partial). */
  onFetched?(bytes: number): void;
}

export interface BlobStream {
  /** The blob's bytes from offset 0, verified while they flow: errors with DIGEST_/SIZE_MISMATCH at the end. */
  stream: Readable;
  /** Resolves with the digest once every byte has been read and verified. */
  verified: Promise<string>;
  /** Bytes that came from a replayed partial. */
  resumedFrom(): number;
}

/**
 * One pass over a blob: replay the cached partial (if any), then fetch the rest from the source,
 * in parallel ranges when the blob is large and the source honours them (ranges.ts), else as one
 * stream reconnecting with a Range request after transient failures; every byte is hashed and
 * counted in order, and network bytes reach the cache writer before they are handed on.
 */
export function openBlobStream(options: BlobStreamOptions): BlobStream {
  const { orchestrator, source, descriptor, signal, writer } = options;
  const verifier = new DigestVerifier(descriptor, `blob ${descriptor.digest}`);
  let settle!: { resolve: (d: string) => void; reject: (e: unknown) => void };
  const verified = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  verified.catch(() => {});
  let replayed = 0;
  const retries = orchestrator.settings.blobRetries;
  const delay = Number(process.env.OCIPULL_RETRY_DELAY_MS ?? 250);

  async function* bytes(): AsyncGenerator<Buffer> {
    let position = 0;
    if (writer && writer.offset > 0) {
      for await (const chunk of writer.replay()) {
        const buf = chunk as Buffer;
        verifier.update(buf);
        position += buf.length;
        yield buf;
      }
      replayed = position;
      orchestrator.log.debug(`resuming ${descriptor.digest} at byte ${position} of ${descriptor.size}`);
    }
    let failures = 0;
    let reconnects = 0;
    // The If-Range validator: the partial's from an earlier run, then the latest answer's (a strong
    // ETag, else Last-Modified), so a reconnect inside this run is conditional too.
    let validator = writer?.ifRange;
    let paused = position * 2 >= descriptor.size;
    // An answer to a ranged request that the one stream reads on (a source that ignored the range).
    let first: FetchResponse | undefined;
    if (wantsRanges(orchestrator, descriptor, position)) {
      const local = writer?.readRange ? (writer.completed ?? []) : [];
      replayed += local.reduce(
        (sum, [a, b]) => sum + Math.max(0, Math.min(b, descriptor.size) - Math.max(a, position)),
        0,
      );
      const ranged = yield* fetchRanges({
        orchestrator,
        source,
        descriptor,
        signal,
        writer,
        verifier,
        position,
        validator,
        onFetched: options.onFetched,
        onHanded: async (n) => {
          position += n;
          if (!paused && position * 2 >= descriptor.size) {
            paused = true;
            await pauseAt('blob');
          }
        },
      });
      if (ranged.complete) {
        settle.resolve(verifier.finish());
        return;
      }
      replayed = position;
      first = ranged.fallback;
    }
    while (position < descriptor.size) {
      signal.throwIfAborted();
      let response: FetchResponse | undefined = first;
      first = undefined;
      const before = position;
      try {
        response ??= await orchestrator.fetchRaw(
          source,
          descriptor,
          position,
          signal,
          position > 0 ? validator : undefined,
        );
        if (response.offset > position) {
          throw new OcipullError(
            'UNEXPECTED_RESPONSE',
            `asked for ${descriptor.digest} from byte ${position}, got bytes from ${response.offset}`,
          );
        }
        const strong = response.etag && !response.etag.startsWith('W/') ? response.etag : undefined;
        validator = strong ?? response.lastModified ?? validator;
        await writer?.describe({
          url: response.url,
          etag: response.etag,
          lastModified: response.lastModified,
        });
        let skip = position - response.offset;
        for await (const raw of response.body) {
          let chunk = raw as Buffer;
          if (skip > 0) {
            // The source ignored Range (200 instead of 206): drop what we already have.
            if (chunk.length <= skip) {
              skip -= chunk.length;
              continue;
            }
            chunk = chunk.subarray(skip);
            skip = 0;
          }
          verifier.update(chunk);
          if (writer) await writer.write(chunk);
          position += chunk.length;
          options.onFetched?.(chunk.length);
          yield chunk;
          if (!paused && position * 2 >= descriptor.size) {
            paused = true;
            await pauseAt('blob');
          }
        }
        if (position < descriptor.size) {
          throw new OcipullError(
            'TRUNCATED',
            `${descriptor.digest} body ended at byte ${position} of ${descriptor.size}`,
          );
        }
      } catch (error) {
        response?.body.destroy();
        if (signal.aborted || !isTransient(error)) throw error;
        failures = position > before ? 1 : failures + 1;
        reconnects++;
        if (failures > retries || reconnects > retries * 20) throw error;
        const wait = Math.min(delay * 2 ** (failures - 1), 10_000) * (0.5 + Math.random() / 2);
        orchestrator.log.debug(
          `blob ${descriptor.digest}: ${(error as Error).message}; reconnecting at byte ${position} in ${Math.round(wait)} ms (attempt ${failures}/${retries})`,
        );
        await sleep(wait, undefined, { signal });
      }
    }
    settle.resolve(verifier.finish());
  }

  async function* guarded(): AsyncGenerator<Buffer> {
    try {
      yield* bytes();
    } catch (error) {
      settle.reject(error);
      throw error;
    }
  }

  return {
    stream: Readable.from(guarded(), { objectMode: false, highWaterMark: 1 << 20 }),
    verified,
    resumedFrom: () => replayed,
  };
}
