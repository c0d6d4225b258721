/**
 * Multi-frame zstd decoded on all cores while it downloads: the stream is split into frames as
 * it arrives (./frame-scan.ts) and each frame goes to a free worker (./frames-thread.ts) with its
 * output offset, the sum of the earlier frames' content sizes (a frame whose header has none
 * holds the next frame's offset until it is decoded). Skippable frames (the seek table) are
 * skipped. The input is read only while a worker can take what is read: at most one frame per
 * worker plus one being gathered are held, and a frame bigger than PIECE goes to its worker in
 * PIECE-sized pieces, each sent once the previous one is decoded.
 */
import { ftruncateSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { type DecompressRequest, type DecompressResult, decodeError, expansionError } from 'ocipull';
import { ByteQueue, FrameScanner, ScanError, type ScannedFrame } from './frame-scan.js';
import type { FromFramesWorker, ToFramesWorker } from './frames-thread.js';

/** The most bytes gathered before deciding, and the most sent to a worker at once. */
export const PIECE = 16 << 20;

/** What the last `decodeArriving` did (tests assert these, not times or RSS). */
export const arrivingStats = {
  /** Runs of the frame path since the process started. */
  runs: 0,
  /** Frames decoded and written, and skippable frames skipped. */
  frames: 0,
  skipped: 0,
  /** Decompressed bytes written. */
  bytes: 0,
  workers: 0,
  /** The most compressed bytes the main thread held at once (gathered, not yet sent). */
  maxQueuedBytes: 0,
  /** The most bytes one worker held at once (input not yet decoded plus output not yet written). */
  maxHeldBytes: 0,
};

/** The start of a stream, read until its first frame ends (or PIECE bytes, or the end). */
export interface Probe {
  queue: ByteQueue;
  scanner: FrameScanner;
  first?: ScannedFrame;
  source: AsyncIterator<Buffer>;
  ended: boolean;
}

export async function probe(input: Readable): Promise<Probe> {
  const p: Probe = {
    queue: new ByteQueue(),
    scanner: new FrameScanner(),
    source: input[Symbol.asyncIterator](),
    ended: false,
  };
  while (!p.first && p.queue.held < PIECE) {
    const next = await p.source.next();
    if (next.done) {
      p.ended = true;
      break;
    }
    p.queue.push(next.value);
    try {
      p.first = p.scanner.advance(p.queue);
    } catch {
      break; // the stream decoder says what is wrong
    }
  }
  // Without the blob's size, whether more follows the first frame is seen in the stream.
  if (p.first && p.queue.end === p.first.length && !p.ended) {
    const next = await p.source.next();
    if (next.done) p.ended = true;
    else p.queue.push(next.value);
  }
  return p;
}

/** Whether the probed blob goes frame by frame: several frames, the first with its content size. */
export function useFrames(p: Probe, request: DecompressRequest, minBytes: number | undefined): boolean {
  const first = p.first;
  if (!first?.length || first.skippable || first.contentSize === undefined || request.output.device)
    return false;
  const size = request.blobSize;
  if (!(size !== undefined ? size > first.length : p.queue.end > first.length)) return false;
  if (minBytes === undefined) return true;
  const estimate = size !== undefined ? (first.contentSize * size) / first.length : first.contentSize;
  return estimate >= minBytes;
}

/** The probed stream again, from its first byte, for another decoder. */
export function replay(p: Probe): Readable {
  async function* bytes() {
    try {
      yield* p.queue.rest();
      if (p.ended) return;
      for (;;) {
        const next = await p.source.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      await p.source.return?.();
    }
  }
  return Readable.from(bytes(), { objectMode: false });
}

interface Slot {
  worker: Worker;
  busy: boolean;
  awaitingPiece: boolean;
}

export async function decodeArriving(request: DecompressRequest, p: Probe): Promise<DecompressResult> {
  const { output, signal, maxOutputBytes, codec } = request;
  const count = Math.max(1, availableParallelism());
  Object.assign(arrivingStats, {
    runs: arrivingStats.runs + 1,
    frames: 0,
    skipped: 0,
    bytes: 0,
    workers: count,
    maxQueuedBytes: 0,
    maxHeldBytes: 0,
  });
  let failure: unknown;
  let wake: (() => void) | undefined;
  const fail = (error: unknown) => {
    failure ??= error;
    wake?.();
  };
  /** Wait for `ready`, woken by every worker message; a failure ends the wait. */
  const until = async (ready: () => boolean) => {
    while (failure === undefined && !ready()) await new Promise<void>((resolve) => (wake = resolve));
    if (failure !== undefined) throw failure;
  };
  const onAbort = () => fail(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  /** Decoded lengths of frames without a content size, by index. */
  const produced = new Map<number, number>();
  const slots: Slot[] = Array.from({ length: count }, () => {
    const worker = new Worker(new URL('./frames-thread.js', import.meta.url), {
      workerData: { fd: output.fd, sparse: output.sparse },
    });
    const slot: Slot = { worker, busy: false, awaitingPiece: false };
    worker.on('message', (message: FromFramesWorker) => {
      arrivingStats.maxHeldBytes = Math.max(arrivingStats.maxHeldBytes, message.held);
      if (message.type === 'piece') slot.awaitingPiece = false;
      else if (message.type === 'done') {
        slot.busy = false;
        arrivingStats.frames++;
        arrivingStats.bytes += message.produced;
        produced.set(message.index, message.produced);
      } else
        fail(
          message.kind === 'limit'
            ? expansionError(maxOutputBytes ?? 0)
            : decodeError(codec, message.kind, message.message),
        );
      wake?.();
    });
    worker.on('error', fail);
    return slot;
  });
  const exited = Promise.all(slots.map((s) => new Promise((resolve) => s.worker.once('exit', resolve))));
  const post = (slot: Slot, message: ToFramesWorker, bytes: Uint8Array) =>
    slot.worker.postMessage(message, [bytes.buffer as ArrayBuffer]);

  const { queue } = p;
  let scanner = p.scanner;
  let ended = p.ended;
  const more = async (): Promise<boolean> => {
    if (ended) return false;
    const next = await p.source.next();
    if (failure !== undefined) throw failure;
    if (next.done) ended = true;
    else {
      queue.push(next.value);
      arrivingStats.maxQueuedBytes = Math.max(arrivingStats.maxQueuedBytes, queue.held);
    }
    return !next.done;
  };
  const scan = () => {
    try {
      return scanner.advance(queue);
    } catch (error) {
      throw error instanceof ScanError ? decodeError(codec, error.kind, error.message) : error;
    }
  };
  const cut = (where: string) => decodeError(codec, 'truncated', `the blob ends inside ${where}`);

  /** The next frame's output offset; undefined while a frame without content size decodes. */
  let outOffset: number | undefined = 0;
  let pending: { index: number; at: number } | undefined;
  const settle = async () => {
    if (outOffset !== undefined || !pending) return;
    const { index, at } = pending;
    await until(() => produced.has(index));
    outOffset = at + produced.get(index)!;
    pending = undefined;
  };
  try {
    for (let index = 0; ; ) {
      while (!scan() && !scanner.frame) {
        if (!(await more())) {
          if (queue.held === 0) break;
          throw cut('a frame header');
        }
      }
      const head = scanner.frame;
      if (!head) break;
      if (head.skippable) {
        while (!scan()) {
          queue.drop(Math.min(queue.end, scanner.scanned));
          if (!(await more())) throw cut('a skippable frame');
        }
        queue.drop(head.length!);
        arrivingStats.skipped++;
      } else {
        await settle();
        const at: number = outOffset ?? 0;
        const size = head.contentSize;
        if (maxOutputBytes !== undefined && size !== undefined && at + size > maxOutputBytes)
          throw expansionError(maxOutputBytes);
        // The frame is gathered while the workers decode earlier ones; then it waits for one.
        let slot: Slot | undefined;
        let first = true;
        for (;;) {
          const done = scan() !== undefined;
          if (done || queue.held >= PIECE) {
            const upTo = done ? head.length! : Math.min(queue.end, scanner.scanned);
            if (done || upTo > queue.start) {
              if (!slot) {
                await until(() => slots.some((s) => !s.busy));
                slot = slots.find((s) => !s.busy)!;
                slot.busy = true;
              }
              const to = slot;
              await until(() => !to.awaitingPiece);
              const bytes = queue.take(upTo);
              const limit = maxOutputBytes === undefined ? undefined : maxOutputBytes - at;
              post(
                to,
                first
                  ? { type: 'frame', index, outOffset: at, size, limit, bytes, last: done }
                  : { type: 'piece', bytes, last: done },
                bytes,
              );
              to.awaitingPiece = !done;
              first = false;
            }
            if (done) break;
          }
          if (!(await more())) throw cut(`frame ${index}`);
        }
        if (size === undefined) {
          pending = { index, at };
          outOffset = undefined;
        } else outOffset = at + size;
        index++;
      }
      queue.rebase(head.length!);
      scanner = new FrameScanner();
    }
    await settle();
    await until(() => slots.every((s) => !s.busy));
    const total = outOffset!;
    // Trailing holes: the file is as long as the disk.
    ftruncateSync(output.fd, total);
    return { bytesWritten: total };
  } catch (error) {
    fail(error);
    await p.source.return?.().catch(() => {});
    throw failure;
  } finally {
    signal.removeEventListener('abort', onAbort);
    for (const s of slots) s.worker.postMessage({ type: 'stop' } satisfies ToFramesWorker);
    await exited;
  }
}
