/**
 * A worker of `decodeFrames`: asks for a frame, decodes it with zstd-napi from the blob file and
 * writes it at its offset in the output (leaving aligned zero blocks as holes when sparse),
 * then asks for the next, until told to stop. A frame is read in slices of at most SLICE bytes
 * into one buffer and decoded into one output buffer, both reused for every frame: a worker holds
 * SLICE + OUT bytes whatever the frame sizes and the compression ratio (it reports the most it
 * held, `held`). One frame is one synchronous step, so a stop (end, failure, abort) waits at most
 * one frame.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { positionalWriter } from 'ocipull/decoder-thread';
import type { SeekFrame } from './seekable.js';

interface DCtx {
  decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
}

const require = createRequire(import.meta.url);
const binding = require('zstd-napi/binding') as { DCtx: new () => DCtx };

const { blob, fd, sparse } = workerData as { blob: string; fd: number; sparse: boolean };
/** Compressed bytes read at once, and decompressed bytes produced at once. */
const SLICE = 1 << 20;
const OUT = 1 << 20;
const write = positionalWriter(fd, sparse);
const slice = Buffer.allocUnsafeSlow(SLICE);
const out = Buffer.allocUnsafeSlow(OUT);
const input = openSync(blob, 'r');
/** One context for every frame of this worker (a frame's end leaves it ready for the next). */
let dctx = new binding.DCtx();
let broken = false;
let stopped = false;
/** The most bytes this worker held at once: input not yet decoded plus output not yet written. */
let held = 0;

class FrameError extends Error {
  constructor(
    message: string,
    readonly kind: 'corrupt' | 'truncated',
  ) {
    super(message);
  }
}

/** The next slice of `frame`'s compressed bytes from `read` on, in the shared slice buffer. */
function readSlice(frame: SeekFrame, index: number, read: number): Buffer {
  const length = Math.min(SLICE, frame.compressed - read);
  let got = 0;
  while (got < length) {
    const n = readSync(input, slice, got, length - got, frame.offset + read + got);
    if (n === 0) throw new FrameError(`frame ${index} is cut short in the blob`, 'truncated');
    got += n;
  }
  return slice.subarray(0, length);
}

function decode(frame: SeekFrame, index: number): void {
  // A failed frame leaves the context mid-frame: a new one then (a failure ends the run anyway).
  if (broken) dctx = new binding.DCtx();
  broken = true;
  let read = 0;
  let rest: Buffer = slice.subarray(0, 0);
  let produced = 0;
  let hint = 1;
  for (;;) {
    if (rest.length === 0 && read < frame.compressed) {
      rest = readSlice(frame, index, read);
      read += rest.length;
    }
    let step: [number, number, number];
    try {
      step = dctx.decompressStream(out, rest);
    } catch (error) {
      throw new FrameError(
        `frame ${index} (${frame.compressed} bytes at offset ${frame.offset}, as its seek table entry says): ${(error as Error).message}`,
        'corrupt',
      );
    }
    const [h, made, used] = step;
    hint = h;
    rest = rest.subarray(used);
    held = Math.max(held, rest.length + used + made);
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
    // Out of input with the output not full: the frame needs bytes the table does not give it.
    if (rest.length === 0 && read === frame.compressed && made < OUT) break;
  }
  broken = hint !== 0;
  // The table's sizes add up to the file, so a frame running past its entry is the table's fault.
  if (hint !== 0)
    throw new FrameError(
      `frame ${index} does not end within the ${frame.compressed} bytes its seek table entry gives it`,
      'corrupt',
    );
  const used = read - rest.length;
  if (used !== frame.compressed || produced !== frame.decompressed)
    throw new FrameError(
      `frame ${index} is ${used} bytes decoding to ${produced}, but its seek table entry says ${frame.compressed} decoding to ${frame.decompressed}`,
      'corrupt',
    );
}

parentPort?.on(
  'message',
  (message: { type: 'frame'; frame: SeekFrame; index: number } | { type: 'stop' }) => {
    if (message.type === 'stop') {
      // Asked more than once after a failure: the descriptor (maybe reused since) is closed once.
      if (!stopped) closeSync(input);
      stopped = true;
      parentPort?.close();
      return;
    }
    if (stopped) return;
    try {
      decode(message.frame, message.index);
      parentPort?.postMessage({ type: 'next', index: message.index, held });
    } catch (error) {
      const kind = error instanceof FrameError ? error.kind : 'corrupt';
      parentPort?.postMessage({
        type: 'error',
        kind,
        message: (error as Error).message,
        code: (error as { code?: string }).code,
        held,
      });
    }
  },
);
parentPort?.postMessage({ type: 'next', held });
