/**
 * The worker of `decodeToOutput`: compressed chunks arrive as transferred ArrayBuffers, are
 * decoded with zstd-napi into one reused 1 MiB buffer and written at their position in the output
 * (holes kept when sparse); each chunk goes back to the main thread, emptied, to be filled again.
 * Decoded bytes never cross threads. One chunk is one synchronous step, so a stop waits at most
 * one chunk.
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { positionalWriter } from 'ocipull/decoder-thread';

interface DCtx {
  /** Returns [hint (0 at a frame end), bytes produced, bytes consumed]. */
  decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
}

const require = createRequire(import.meta.url);
const binding = require('zstd-napi/binding') as { DCtx: new () => DCtx };

const { fd, sparse, max } = workerData as { fd: number; sparse: boolean; max?: number };
const OUT = 1 << 20;
const out = Buffer.allocUnsafeSlow(OUT);
const write = positionalWriter(fd, sparse);
const dctx = new binding.DCtx();
let inFrame = false;
let written = 0;
let failed = false;

/** Output past the expansion limit: stopped at once rather than after the chunk. */
class Expansion extends Error {}

function decode(chunk: Buffer): void {
  let input = chunk;
  for (;;) {
    const [hint, produced, consumed] = dctx.decompressStream(out, input);
    input = input.subarray(consumed);
    inFrame = hint !== 0;
    if (produced > 0) {
      write(out.subarray(0, produced), written);
      written += produced;
      if (max !== undefined && written > max) throw new Expansion();
    }
    if (input.length === 0 && produced < OUT) return;
  }
}

function fail(error: unknown, kind?: 'truncated'): void {
  failed = true;
  parentPort?.postMessage({
    type: 'error',
    message: (error as Error)?.message ?? String(error),
    kind: error instanceof Expansion ? 'expansion' : kind,
  });
}

parentPort?.on(
  'message',
  (message: { type: 'chunk'; buf: ArrayBuffer; length: number } | { type: string }) => {
    if (message.type === 'stop') {
      parentPort?.close();
      return;
    }
    if (failed) return;
    if (message.type === 'end') {
      if (inFrame) fail(new Error('the input ended in the middle of a frame (truncated)'), 'truncated');
      else parentPort?.postMessage({ type: 'done', written });
      return;
    }
    const { buf, length } = message as { buf: ArrayBuffer; length: number };
    try {
      decode(Buffer.from(buf, 0, length));
    } catch (error) {
      fail(error);
      return;
    }
    parentPort?.postMessage({ type: 'read', buf, written }, [buf]);
  },
);
