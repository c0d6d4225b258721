/**
 * Multi-frame zstd decoded on all cores: when the blob is a complete local file (a cache hit)
 * with a trustworthy seek table, worker threads (parallel-thread.ts) decode its frames and write
 * each at its offset of the output; the input stream is read alongside (the core verifies the
 * blob's digest from it) and not decoded. Anything else is left to the streaming decoder.
 */
import { ftruncateSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type DecompressRequest, type DecompressResult, decodeError, expansionError } from 'ocipull';
import { readSeekTable, type SeekTable } from './seekable.js';

/** The blob's seek table when it should be decoded in parallel, else undefined. */
export async function parallelPlan(request: DecompressRequest): Promise<SeekTable | undefined> {
  if (!request.blobFile || request.output.device) return undefined;
  const table = await readSeekTable(request.blobFile).catch(() => undefined);
  return table && table.frames.length > 1 ? table : undefined;
}

interface FromWorker {
  type: 'next' | 'error';
  /** The frame just decoded (absent in a worker's first message). */
  index?: number;
  /** The most bytes the worker held at once so far. */
  held?: number;
  kind?: 'corrupt' | 'truncated';
  message?: string;
}

/** What the last `decodeFrames` did (tests assert these, not times or RSS). */
export const parallelStats = {
  /** Frames decoded and written. */
  frames: 0,
  /** Decompressed bytes written. */
  bytes: 0,
  /** Workers run. */
  workers: 0,
  /** The most bytes one worker held at once (compressed input not yet decoded plus output not yet written). */
  maxHeldBytes: 0,
};

/** Decode `table`'s frames of `request.blobFile` into `request.output` on all cores. */
export async function decodeFrames(request: DecompressRequest, table: SeekTable): Promise<DecompressResult> {
  const { output, signal, maxOutputBytes, codec } = request;
  signal.throwIfAborted();
  if (maxOutputBytes !== undefined && table.total > maxOutputBytes) throw expansionError(maxOutputBytes);
  // The core verifies the blob from the stream: read it beside the workers.
  const draining = (async () => {
    for await (const _chunk of request.input) {
      if (signal.aborted) break;
    }
  })();
  draining.catch(() => {});
  const count = Math.min(table.frames.length, Math.max(1, availableParallelism()));
  Object.assign(parallelStats, { frames: 0, bytes: 0, workers: count, maxHeldBytes: 0 });
  let next = 0;
  let failure: unknown;
  const workers: Worker[] = [];
  const finished = new Promise<void>((resolve) => {
    let running = count;
    const stop = (worker: Worker) => {
      worker.postMessage({ type: 'stop' });
    };
    const onAbort = () => {
      failure ??= signal.reason;
      for (const w of workers) stop(w);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    for (let i = 0; i < count; i++) {
      const worker = new Worker(new URL('./parallel-thread.js', import.meta.url), {
        workerData: { blob: request.blobFile, fd: output.fd, sparse: output.sparse },
      });
      workers.push(worker);
      worker.on('message', (message: FromWorker) => {
        parallelStats.maxHeldBytes = Math.max(parallelStats.maxHeldBytes, message.held ?? 0);
        if (message.type === 'next' && message.index !== undefined) {
          parallelStats.frames++;
          parallelStats.bytes += table.frames[message.index]!.decompressed;
        }
        if (message.type === 'error') {
          failure ??= decodeError(codec, message.kind ?? 'corrupt', message.message ?? 'a frame failed');
          for (const w of workers) stop(w);
          return;
        }
        if (failure !== undefined || next >= table.frames.length) {
          stop(worker);
          return;
        }
        const index = next++;
        worker.postMessage({ type: 'frame', frame: table.frames[index], index });
      });
      worker.on('error', (error) => {
        failure ??= error;
        for (const w of workers) stop(w);
      });
      worker.once('exit', () => {
        if (--running === 0) {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }
      });
    }
  });
  await finished;
  if (failure !== undefined) throw failure;
  // Trailing holes: the file is as long as the disk.
  ftruncateSync(output.fd, table.total);
  await draining;
  return { bytesWritten: table.total };
}
