/**
 * Decoding in a worker thread: the input is sliced into transferred chunks with a bounded window
 * of chunks in flight, the output comes back the same way with a bounded credit, so the main
 * thread (hashing, networking, writing) never waits for the decoder and neither side buffers
 * more than a few megabytes. The step returned is an `InProcessDecoder`, so `decodeInProcess`
 * classifies its failures, counts its output and aborts it as it does for in-thread decoders;
 * leaving the step (end, failure, abort) terminates the worker.
 */
import { ftruncateSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import type { DecompressRequest, DecompressResult } from '../types.js';
import {
  decodeInProcess,
  expansionError,
  type InProcessOptions,
  inProcessFailure,
  watchInput,
} from './decoder.js';

/** Which decoder the worker runs: `module`'s export `name`, called with `args`, an async-generator step. */
export interface WorkerDecoderSpec {
  /** A file: URL (or absolute path) of an ES module. */
  module: string;
  name: string;
  /** Structured-clonable arguments for the factory. */
  args?: unknown[];
  /**
   * The step is done with an input chunk when it asks for the next one (it keeps no reference):
   * the chunks' buffers then come back to be refilled, a fixed pool of IN_WINDOW, no garbage.
   */
  reuseInput?: boolean;
}

/** Input chunks in flight to the worker (each at most IN_CHUNK bytes). */
const IN_WINDOW = 4;
const IN_CHUNK = 1 << 20;
/** Output chunks the worker may send before the main thread has taken them. */
const OUT_WINDOW = 4;
/** How long a stopped worker may take to leave its decoder call before it is terminated. */
const STOP_GRACE_MS = 10_000;

interface FromWorker {
  type: 'data' | 'read' | 'done' | 'error' | 'wrote';
  written?: number;
  buf?: ArrayBuffer;
  message?: string;
  code?: string;
  name?: string;
}

/** The error the worker reported, rebuilt with its message, name and code (classifiers read them). */
function rebuild(message: FromWorker): Error {
  const error = new Error(message.message ?? 'the decoder failed') as Error & { code?: string };
  if (message.name) error.name = message.name;
  if (message.code !== undefined) error.code = message.code;
  return error;
}

/**
 * Decoder threads started by `workerDecoder` in this process (tests assert it: off the main
 * thread); input chunks sent and input buffers allocated, over all of them.
 */
export const decodeWorkerStats = { started: 0, chunks: 0, buffers: 0 };

/** A decoding step that runs `spec` in a new worker thread. */
export function workerDecoder(
  spec: WorkerDecoderSpec,
  direct?: { fd: number; sparse: boolean; max?: number; onWritten(bytes: number): void },
): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (source) {
    decodeWorkerStats.started++;
    const worker = new Worker(new URL('./decode-thread.js', import.meta.url), {
      workerData: {
        module: spec.module,
        name: spec.name,
        args: spec.args ?? [],
        window: OUT_WINDOW,
        reuseInput: spec.reuseInput === true,
        output: direct && { fd: direct.fd, sparse: direct.sparse, max: direct.max },
      },
    });
    const outputs: Buffer[] = [];
    let finished = false;
    let failure: unknown;
    let inFlight = 0;
    const pool: ArrayBuffer[] = [];
    let stopped = false;
    let waiters: Array<() => void> = [];
    const notify = () => {
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake();
    };
    const wait = () => new Promise<void>((resolve) => waiters.push(resolve));
    worker.on('message', (message: FromWorker) => {
      if (message.written !== undefined) direct?.onWritten(message.written);
      if (message.type === 'data' && message.buf) outputs.push(Buffer.from(message.buf));
      else if (message.type === 'error' && message.code === 'EXPANSION_LIMIT' && direct?.max !== undefined)
        failure ??= expansionError(direct.max);
      else if (message.type === 'read') {
        inFlight--;
        if (message.buf) pool.push(message.buf);
      } else if (message.type === 'done') finished = true;
      else if (message.type === 'error') failure ??= rebuild(message);
      notify();
    });
    worker.on('error', (error) => {
      failure ??= error;
      notify();
    });
    let exited = false;
    const exit = new Promise<void>((resolve) =>
      worker.once('exit', (code) => {
        exited = true;
        if (!finished) failure ??= new Error(`the decoder thread exited with code ${code}`);
        notify();
        resolve();
      }),
    );

    const feeding = (async () => {
      for await (const chunk of source) {
        for (let at = 0; at < chunk.length; at += IN_CHUNK) {
          while (inFlight >= IN_WINDOW && !stopped && failure === undefined) await wait();
          if (stopped || failure !== undefined) return;
          const piece = chunk.subarray(at, at + IN_CHUNK);
          // A copy the worker owns: a chunk may share its memory with others (pooled buffers).
          let buf = spec.reuseInput ? pool.pop() : undefined;
          if (!buf) {
            buf = new ArrayBuffer(spec.reuseInput ? IN_CHUNK : piece.length);
            decodeWorkerStats.buffers++;
          }
          new Uint8Array(buf).set(piece);
          inFlight++;
          decodeWorkerStats.chunks++;
          worker.postMessage({ type: 'chunk', buf, length: piece.length }, [buf]);
        }
      }
      if (!stopped) worker.postMessage({ type: 'end' });
    })().catch((error: unknown) => {
      failure ??= error ?? new Error('the input failed');
      notify();
    });

    try {
      for (;;) {
        if (failure !== undefined) throw failure;
        const next = outputs.shift();
        if (next) {
          worker.postMessage({ type: 'credit' });
          yield next;
          continue;
        }
        if (finished) break;
        await wait();
      }
      await feeding;
      if (failure !== undefined) throw failure;
    } finally {
      stopped = true;
      notify();
      if (!exited) {
        // Asked to stop between two decoder calls (see decode-thread.ts); terminated only if it hangs.
        worker.postMessage({ type: 'stop' });
        const timer = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
        await exit;
        clearTimeout(timer);
      }
    }
  };
}

/**
 * Decode `request` with `spec` in a worker thread that writes the output itself, at its
 * positions (holes kept when sparse), so decoded bytes never come back to the main thread: no
 * transfers, no garbage buffers waiting for the main thread's collector. Failures are mapped as
 * `decodeInProcess` maps them. A block-device output goes through `decodeInProcess` (its stream
 * refuses to pass the device's end).
 */
export async function decodeInWorker(
  request: DecompressRequest,
  spec: WorkerDecoderSpec,
  options: InProcessOptions,
): Promise<DecompressResult> {
  const { input, output, signal, maxOutputBytes, codec } = request;
  if (output.device) return decodeInProcess(request, workerDecoder(spec), options);
  signal.throwIfAborted();
  const watched = watchInput(input);
  let failure: unknown;
  let written = 0;
  const step = workerDecoder(spec, {
    fd: output.fd,
    sparse: output.sparse,
    max: maxOutputBytes,
    onWritten: (bytes) => {
      written = bytes;
    },
  });
  try {
    await pipeline(
      watched.source,
      step,
      async (decoded: AsyncIterable<Buffer>) => {
        for await (const _ of decoded);
      },
      { signal },
    );
    // Trailing holes: the file is as long as what was decoded.
    ftruncateSync(output.fd, written);
    return { bytesWritten: written };
  } catch (error) {
    failure = error;
    throw inProcessFailure(error, { codec, signal, watched, classify: options.classify });
  } finally {
    watched.release(failure);
  }
}
