/**
 * A worker of `decodeArriving` (./arriving.ts): decodes one frame at a time, given in pieces as
 * it arrives (usually one piece: the whole frame), with zstd-napi into one reused output buffer,
 * and writes it at its offset of the output (aligned zero blocks left as holes when sparse).
 * A piece that is not the frame's last is acknowledged (`piece`) once decoded, so the main
 * thread sends the next one only then; the frame's end is `done` with its decoded length.
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { positionalWriter } from 'ocipull/decoder-thread';

interface DCtx {
  decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
}

export type ToFramesWorker =
  | {
      type: 'frame';
      index: number;
      outOffset: number;
      /** The frame header's Frame_Content_Size, when it has one. */
      size?: number;
      /** The most bytes this frame may decode to (the expansion limit left), when limited. */
      limit?: number;
      bytes: Uint8Array;
      last: boolean;
    }
  | { type: 'piece'; bytes: Uint8Array; last: boolean }
  | { type: 'stop' };

export type FromFramesWorker =
  | { type: 'piece'; held: number }
  | { type: 'done'; index: number; produced: number; held: number }
  | { type: 'error'; kind: 'corrupt' | 'truncated' | 'limit'; message: string; held: number };

const require = createRequire(import.meta.url);
const binding = require('zstd-napi/binding') as { DCtx: new () => DCtx };

const { fd, sparse } = workerData as { fd: number; sparse: boolean };
const OUT = 1 << 20;
const write = positionalWriter(fd, sparse);
const out = Buffer.allocUnsafeSlow(OUT);
let dctx = new binding.DCtx();
/** The frame being decoded. */
let job: { index: number; outOffset: number; size?: number; limit?: number; produced: number } | undefined;
let held = 0;

class FrameError extends Error {
  constructor(
    message: string,
    readonly kind: 'corrupt' | 'truncated' | 'limit',
  ) {
    super(message);
  }
}

/** Decode one piece of the current frame; at the frame's last piece, check it ended there. */
function decodePiece(bytes: Uint8Array, last: boolean): void {
  const frame = job!;
  let rest = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (;;) {
    let step: [number, number, number];
    try {
      step = dctx.decompressStream(out, rest);
    } catch (error) {
      throw new FrameError(`frame ${frame.index}: ${(error as Error).message}`, 'corrupt');
    }
    const [hint, made, used] = step;
    held = Math.max(held, rest.length + made);
    rest = rest.subarray(used);
    if (made > 0) {
      if (frame.size !== undefined && frame.produced + made > frame.size)
        throw new FrameError(
          `frame ${frame.index} decodes to more than the ${frame.size} bytes its header says`,
          'corrupt',
        );
      if (frame.limit !== undefined && frame.produced + made > frame.limit) throw new FrameError('', 'limit');
      write(out.subarray(0, made), frame.outOffset + frame.produced);
      frame.produced += made;
    }
    if (hint === 0) {
      if (rest.length > 0 || !last)
        throw new FrameError(`frame ${frame.index} ends before the end its block headers give`, 'corrupt');
      break;
    }
    if (rest.length === 0 && made < OUT) {
      if (last)
        throw new FrameError(
          `frame ${frame.index} does not end where its block headers say it does`,
          'corrupt',
        );
      return;
    }
  }
  if (frame.size !== undefined && frame.produced !== frame.size)
    throw new FrameError(
      `frame ${frame.index} decodes to ${frame.produced} bytes, but its header says ${frame.size}`,
      'corrupt',
    );
}

const port = parentPort!;
port.on('message', (message: ToFramesWorker) => {
  if (message.type === 'stop') {
    port.close();
    return;
  }
  if (message.type === 'frame') {
    const { index, outOffset, size, limit } = message;
    job = { index, outOffset, size, limit, produced: 0 };
  }
  if (!job) return;
  try {
    decodePiece(message.bytes, message.last);
    if (!message.last) port.postMessage({ type: 'piece', held } satisfies FromFramesWorker);
    else
      port.postMessage({
        type: 'done',
        index: job.index,
        produced: job.produced,
        held,
      } satisfies FromFramesWorker);
  } catch (error) {
    // A failed frame leaves the context mid-frame; a failure ends the run, but stay clean.
    dctx = new binding.DCtx();
    const kind = error instanceof FrameError ? error.kind : 'corrupt';
    port.postMessage({
      type: 'error',
      kind,
      message: (error as Error).message,
      held,
    } satisfies FromFramesWorker);
  }
});
