/**
 * An .xz decoder for a worker thread, in bounded memory. lzma-native's stream hands liblzma a
 * whole input chunk and queues all of its output before JavaScript sees any (natively, then
 * copied): on a disk's zero-filled regions a 16 KiB slice of input is hundreds of megabytes of
 * output, which is where the in-process decoder's 541 MB peak came from. Here lzma-native's
 * native coder is driven synchronously (no extra thread: this already is one) and the input
 * slice adapts to what the last call produced, so one call yields a few megabytes at most.
 * Concatenated streams and the zero padding between them are handled as lzma-native's stream
 * does (slices end after each "YZ", a stream end restarts the decoder on the next non-zero byte).
 */
import { createRequire } from 'node:module';

interface NativeStream {
  bufferHandler: (buf: Buffer | null | undefined, processed: unknown, error: unknown) => void;
  streamDecoder_(memlimit: number | null, flags: number): void;
  code(input: Buffer | null, async: boolean): void;
  resetUnderlying(): void;
  setBufsize(size: number | null): number;
}

const require = createRequire(import.meta.url);
const lzma = require('lzma-native') as { Stream: new () => NativeStream };

const MEMLIMIT = 1 << 30;
const MIN_SLICE = 64;
const MAX_SLICE = 64 << 10;
/** Output per call above which the next slice shrinks, and below which it grows. */
const HIGH = 4 << 20;
const LOW = 1 << 20;

function indexOfYZ(chunk: Buffer): number {
  return chunk.indexOf('YZ', 0, 'latin1');
}

/** The xz decoding step (see the module comment); fails with lzma-native's errors (`code` LZMA_*). */
export function xzThreadDecoder(): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (source) {
    const stream = new lzma.Stream();
    stream.setBufsize(256 << 10);
    let outputs: Buffer[] = [];
    let produced = 0;
    let failure: unknown;
    let streamEnded = false;
    stream.bufferHandler = (buf, _processed, error) => {
      if (error) failure ??= error;
      else if (buf === null) streamEnded = true;
      else if (buf) {
        outputs.push(buf);
        produced += buf.length;
      }
    };
    stream.streamDecoder_(MEMLIMIT, 0);
    // The call's output buffers as lzma-native made them (no concatenated copy).
    const take = (): Buffer[] => {
      if (failure !== undefined) throw failure;
      const out = outputs;
      outputs = [];
      return out;
    };
    let slice = 16 << 10;
    for await (const chunk of source) {
      let rest = chunk;
      while (rest.length > 0) {
        if (streamEnded) {
          // Stream padding, or another stream: zeros are skipped, anything else starts a stream.
          let zeros = 0;
          while (zeros < rest.length && rest[zeros] === 0) zeros++;
          rest = rest.subarray(zeros);
          if (rest.length === 0) break;
          stream.resetUnderlying();
          stream.streamDecoder_(MEMLIMIT, 0);
          streamEnded = false;
        }
        let n = Math.min(rest.length, slice);
        const yz = indexOfYZ(rest.subarray(0, n));
        if (yz !== -1) n = yz + 2;
        produced = 0;
        stream.code(rest.subarray(0, n), false);
        rest = rest.subarray(n);
        if (produced > HIGH) slice = Math.max(MIN_SLICE, slice >> 2);
        else if (produced < LOW) slice = Math.min(MAX_SLICE, slice << 1);
        yield* take();
      }
    }
    if (!streamEnded) {
      stream.code(null, false);
      yield* take();
    }
    stream.resetUnderlying();
  };
}
