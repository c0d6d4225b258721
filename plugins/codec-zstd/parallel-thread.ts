/**
 * A worker of `decodeFrames`: asks for a frame, decodes it with zstd-napi from the blob file and
 * writes it at its offset in the output (leaving aligned zero blocks as holes when sparse),
 * then asks for the next, until told to stop. One frame is one synchronous step, so a stop
 * (end, failure, abort) waits at most one frame.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type { SeekFrame } from './seekable.js';

interface DCtx {
  decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
  reset?(directive: number): void;
}

const require = createRequire(import.meta.url);
const binding = require('zstd-napi/binding') as { DCtx: new () => DCtx };

const { blob, fd, sparse } = workerData as { blob: string; fd: number; sparse: boolean };
const BLOCK = 4096;
const OUT = 1 << 20;
const ZERO = Buffer.alloc(BLOCK);
const out = Buffer.allocUnsafe(OUT);
const input = openSync(blob, 'r');
/** One context for every frame of this worker (a frame's end leaves it ready for the next). */
let dctx = new binding.DCtx();
let broken = false;

class FrameError extends Error {
  constructor(
    message: string,
    readonly kind: 'corrupt' | 'truncated',
  ) {
    super(message);
  }
}

function write(bytes: Buffer, position: number): void {
  let at = 0;
  while (at < bytes.length) {
    // Whole 4 KiB blocks of zeros at 4 KiB-aligned positions stay holes.
    const blockEnd = Math.min(bytes.length, at + BLOCK - ((position + at) % BLOCK));
    if (sparse && blockEnd - at === BLOCK && bytes.compare(ZERO, 0, BLOCK, at, blockEnd) === 0) {
      at = blockEnd;
      continue;
    }
    let end = blockEnd;
    while (end < bytes.length) {
      const next = Math.min(bytes.length, end + BLOCK);
      if (sparse && next - end === BLOCK && bytes.compare(ZERO, 0, BLOCK, end, next) === 0) break;
      end = next;
    }
    let done = at;
    while (done < end) done += writeSync(fd, bytes, done, end - done, position + done);
    at = end;
  }
}

function decode(frame: SeekFrame, index: number): void {
  const src = Buffer.allocUnsafe(frame.compressed);
  let got = 0;
  while (got < frame.compressed) {
    const n = readSync(input, src, got, frame.compressed - got, frame.offset + got);
    if (n === 0) throw new FrameError(`frame ${index} is cut short in the blob`, 'truncated');
    got += n;
  }
  // A failed frame leaves the context mid-frame: a new one then (a failure ends the run anyway).
  if (broken) {
    dctx = new binding.DCtx();
    broken = false;
  }
  broken = true;
  let rest: Buffer = src;
  let produced = 0;
  let hint = 1;
  for (;;) {
    let step: [number, number, number];
    try {
      step = dctx.decompressStream(out, rest);
    } catch (error) {
      throw new FrameError(`frame ${index}: ${(error as Error).message}`, 'corrupt');
    }
    const [h, made, used] = step;
    hint = h;
    rest = rest.subarray(used);
    if (made > 0) {
      if (produced + made > frame.decompressed)
        throw new FrameError(
          `frame ${index} decodes to more than the ${frame.decompressed} bytes its seek table entry says`,
          'corrupt',
        );
      write(out.subarray(0, made), frame.outOffset + produced);
      produced += made;
    }
    if (hint === 0) break;
    if (rest.length === 0 && made < OUT) break;
  }
  broken = hint !== 0;
  if (hint !== 0) throw new FrameError(`frame ${index} ends before its end marker`, 'truncated');
  if (rest.length !== 0 || produced !== frame.decompressed)
    throw new FrameError(
      `frame ${index} is ${frame.compressed - rest.length} bytes decoding to ${produced}, but its seek table entry says ${frame.compressed} decoding to ${frame.decompressed}`,
      'corrupt',
    );
}

parentPort?.on(
  'message',
  (message: { type: 'frame'; frame: SeekFrame; index: number } | { type: 'stop' }) => {
    if (message.type === 'stop') {
      closeSync(input);
      parentPort?.close();
      return;
    }
    try {
      decode(message.frame, message.index);
      parentPort?.postMessage({ type: 'next', bytes: message.frame.decompressed });
    } catch (error) {
      const kind = error instanceof FrameError ? error.kind : 'corrupt';
      parentPort?.postMessage({
        type: 'error',
        kind,
        message: (error as Error).message,
        code: (error as { code?: string }).code,
      });
    }
  },
);
parentPort?.postMessage({ type: 'next', bytes: 0 });
