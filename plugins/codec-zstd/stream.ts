/**
 * zstd without the tool, streamed: one worker thread (stream-thread.ts) decodes the input and
 * writes straight into the output file, so the decoded bytes never pass through the main thread
 * (no transfers back, no JavaScript write stream). The input goes over in 1 MiB chunks, at most
 * IN_WINDOW in flight, each chunk's ArrayBuffer coming back to be refilled: a fixed pool, no
 * garbage. A block-device output is written through its stream instead (the plugin's other path).
 */
import { ftruncateSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { type DecompressRequest, type DecompressResult, decodeError, expansionError } from 'ocipull';

const CHUNK = 1 << 20;
const IN_WINDOW = 4;
/** How long a stopped worker may take to leave its current chunk before it is terminated. */
const STOP_GRACE_MS = 10_000;

interface FromWorker {
  type: 'read' | 'done' | 'error';
  buf?: ArrayBuffer;
  written?: number;
  message?: string;
  kind?: 'truncated' | 'expansion';
}

/** What the last `decodeToOutput` did (tests assert it). */
export const streamStats = { chunks: 0, buffers: 0 };

/** Decode `request.input` (zstd) into `request.output` in a worker thread; `classify` maps its errors. */
export async function decodeToOutput(
  request: DecompressRequest,
  classify: (error: Error) => 'corrupt' | 'truncated' | 'trailing',
): Promise<DecompressResult> {
  const { input, output, signal, maxOutputBytes, codec } = request;
  signal.throwIfAborted();
  Object.assign(streamStats, { chunks: 0, buffers: 0 });
  const worker = new Worker(new URL('./stream-thread.js', import.meta.url), {
    workerData: { fd: output.fd, sparse: output.sparse, max: maxOutputBytes },
  });
  const pool: ArrayBuffer[] = [];
  let inFlight = 0;
  let written = 0;
  let done = false;
  let failure: unknown;
  let inputFailure: unknown;
  let waiters: Array<() => void> = [];
  const notify = () => {
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake();
  };
  const wait = () => new Promise<void>((resolve) => waiters.push(resolve));
  const fail = (error: unknown) => {
    failure ??= error;
    notify();
  };
  worker.on('message', (message: FromWorker) => {
    if (message.type === 'read') {
      inFlight--;
      if (message.buf) pool.push(message.buf);
      written = message.written ?? written;
      if (maxOutputBytes !== undefined && written > maxOutputBytes) fail(expansionError(maxOutputBytes));
    } else if (message.type === 'done') {
      written = message.written ?? written;
      done = true;
    } else if (message.kind === 'expansion' && maxOutputBytes !== undefined) {
      fail(expansionError(maxOutputBytes));
    } else {
      const error = new Error(message.message ?? 'the decoder failed');
      const kind = message.kind === 'truncated' ? 'truncated' : classify(error);
      fail(decodeError(codec, kind, error.message, error));
    }
    notify();
  });
  worker.on('error', fail);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      exited = true;
      if (!done) fail(new Error(`the decoder thread exited with code ${code}`));
      resolve();
    }),
  );
  const onAbort = () => fail(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  input.on('error', () => {});
  try {
    try {
      for await (const chunk of input as AsyncIterable<Buffer>) {
        for (let at = 0; at < chunk.length; at += CHUNK) {
          while (inFlight >= IN_WINDOW && failure === undefined) await wait();
          if (failure !== undefined) throw failure;
          const piece = chunk.subarray(at, at + CHUNK);
          let buf = pool.pop();
          if (!buf) {
            buf = new ArrayBuffer(CHUNK);
            streamStats.buffers++;
          }
          new Uint8Array(buf).set(piece);
          inFlight++;
          streamStats.chunks++;
          worker.postMessage({ type: 'chunk', buf, length: piece.length }, [buf]);
        }
      }
    } catch (error) {
      // The input's own failure (a digest mismatch, a lost connection) comes first.
      if (failure === undefined) inputFailure = error;
      throw error;
    }
    worker.postMessage({ type: 'end' });
    while (!done && failure === undefined) await wait();
    if (failure !== undefined) throw failure;
    // Trailing holes: the file is as long as what was decoded.
    ftruncateSync(output.fd, written);
    return { bytesWritten: written };
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    if (inputFailure !== undefined) throw inputFailure;
    throw error;
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (failure !== undefined && !input.destroyed) input.destroy();
    if (!exited) {
      worker.postMessage({ type: 'stop' });
      const timer = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
      await exit;
      clearTimeout(timer);
    }
  }
}
