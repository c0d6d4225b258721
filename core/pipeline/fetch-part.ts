import { Readable } from 'node:stream';
import { DigestVerifier } from '../oci/digest.js';
import type { Orchestrator } from '../orchestrator.js';
import type { CachedBlob, CacheHandle, Descriptor, Source } from '../types.js';
import { type BlobStream, openBlobStream } from './blob-stream.js';
import { pauseAt } from './pause.js';

/** A cached blob's bytes, verified again while they flow. */
export function cachedBlobStream(blob: CachedBlob): BlobStream {
  const verifier = new DigestVerifier(blob.descriptor, `cached blob ${blob.descriptor.digest}`);
  let settle!: { resolve: (d: string) => void; reject: (e: unknown) => void };
  const verified = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  verified.catch(() => {});
  async function* bytes(): AsyncGenerator<Buffer> {
    try {
      let paused = false;
      for await (const chunk of blob.open()) {
        verifier.update(chunk as Buffer);
        yield chunk as Buffer;
        if (!paused && verifier.received * 2 >= blob.descriptor.size) {
          paused = true;
          await pauseAt('decompress');
        }
      }
      settle.resolve(verifier.finish());
    } catch (error) {
      settle.reject(error);
      throw error;
    }
  }
  return {
    stream: Readable.from(bytes(), { objectMode: false, highWaterMark: 1 << 20 }),
    verified,
    resumedFrom: () => 0,
  };
}

/** Rehash a cached blob (after a decoder failed on it before its digest could be checked). */
export async function blobIntact(blob: CachedBlob): Promise<boolean> {
  const verifier = new DigestVerifier(blob.descriptor, `cached blob ${blob.descriptor.digest}`);
  try {
    for await (const chunk of blob.open()) verifier.update(chunk as Buffer);
    verifier.finish();
    return true;
  } catch {
    return false;
  }
}

/**
 * A part's bytes: the cache's complete entry on a hit; otherwise the source's (resuming the
 * cache's partial and appending to it on a miss). `onPosition` sees the position in the blob
 * after each chunk fetched from the source.
 */
export function openPartBlob(options: {
  orchestrator: Orchestrator;
  source: Source;
  descriptor: Descriptor;
  handle?: CacheHandle;
  signal: AbortSignal;
  onPosition(position: number): void;
}): { blob: BlobStream; fetched(): number } {
  const { handle } = options;
  if (handle?.kind === 'hit') return { blob: cachedBlobStream(handle.blob), fetched: () => 0 };
  let fetched = 0;
  const blob: BlobStream = openBlobStream({
    orchestrator: options.orchestrator,
    source: options.source,
    descriptor: options.descriptor,
    signal: options.signal,
    writer: handle?.writer,
    onFetched: (n) => {
      fetched += n;
      options.onPosition(blob.resumedFrom() + fetched);
    },
  });
  return { blob, fetched: () => fetched };
}
