/**
 * The worker side of `workerDecoder`: input chunks arrive as transferred ArrayBuffers (each
 * acknowledged with `read` when the decoder takes it), output leaves the same way, at most
 * `window` chunks ahead of the main thread's `credit`.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { positionalWriter } from './decode-positional.js';

type Step = (source: AsyncIterable<Buffer>) => AsyncIterable<Buffer>;

const port = parentPort;
const { module, name, args, window, reuseInput, output } = workerData as {
  module: string;
  name: string;
  args: unknown[];
  window: number;
  /** Input buffers go back to the main thread when the decoder asks for the next chunk. */
  reuseInput: boolean;
  /** Set by `decodeInWorker`: output is written here at its position, not sent back. */
  output?: { fd: number; sparse: boolean; max?: number };
};
const write = output ? positionalWriter(output.fd, output.sparse) : undefined;
let written = 0;

/**
 * A native decoder hands each piece of output over in a new Buffer, garbage once written; this
 * thread allocates so little else that V8 would let tens of megabytes of them pile up before a
 * collection. A young-generation collection every COLLECT_EVERY bytes written (about 0.05 ms on
 * this small heap) frees them: the garbage stays under that many bytes.
 */
const COLLECT_EVERY = 4 << 20;
const collect = youngCollector();
let collectedAt = 0;

function youngCollector(): (() => void) | undefined {
  // Run with --expose-gc: the flag is the user's, left as it is.
  const own = (globalThis as { gc?: (options: { type: 'minor' }) => void }).gc;
  if (own) return () => own({ type: 'minor' });
  try {
    // The flag is set only while this thread's new context is made, to take its gc function.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (options: { type: 'minor' }) => void;
    return () => gc({ type: 'minor' });
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

const inputs: Buffer[] = [];
let ended = false;
let credit = window;
/** Set by the main thread's `stop`: the decoder is left between two calls, never inside one. */
let stopped = false;
let waiters: Array<() => void> = [];
const notify = () => {
  const woken = waiters;
  waiters = [];
  for (const wake of woken) wake();
};
const wait = () => new Promise<void>((resolve) => waiters.push(resolve));

port?.on('message', (message: { type: string; buf?: ArrayBuffer; length?: number }) => {
  if (message.type === 'chunk' && message.buf)
    inputs.push(Buffer.from(message.buf, 0, message.length ?? message.buf.byteLength));
  else if (message.type === 'end') ended = true;
  else if (message.type === 'credit') credit++;
  else if (message.type === 'stop') stopped = true;
  notify();
});

async function* input(): AsyncGenerator<Buffer> {
  for (;;) {
    if (stopped) return;
    const next = inputs.shift();
    if (next) {
      if (!reuseInput) port?.postMessage({ type: 'read' });
      yield next;
      // Asked for the next chunk: this one's buffer goes back to be refilled.
      if (reuseInput) port?.postMessage({ type: 'read', buf: next.buffer }, [next.buffer as ArrayBuffer]);
      continue;
    }
    if (ended) return;
    await wait();
  }
}

/** The bytes as an ArrayBuffer of their own, to transfer (a copy when they share one). */
function owned(chunk: Buffer): ArrayBuffer {
  if (
    chunk.byteOffset === 0 &&
    chunk.byteLength === chunk.buffer.byteLength &&
    chunk.buffer instanceof ArrayBuffer
  )
    return chunk.buffer;
  const buf = new ArrayBuffer(chunk.length);
  new Uint8Array(buf).set(chunk);
  return buf;
}

async function run(): Promise<void> {
  try {
    const factory = (await import(module))[name] as (...a: unknown[]) => Step;
    const step = factory(...args);
    for await (const chunk of step(input())) {
      if (chunk.length === 0) continue;
      if (write) {
        if (stopped) break;
        write(chunk, written);
        written += chunk.length;
        if (collect && written - collectedAt >= COLLECT_EVERY) {
          collectedAt = written;
          collect();
        }
        if (output?.max !== undefined && written > output.max) {
          port?.postMessage({ type: 'error', message: 'expansion limit', code: 'EXPANSION_LIMIT', written });
          return;
        }
        port?.postMessage({ type: 'wrote', written });
        continue;
      }
      while (credit <= 0 && !stopped) await wait();
      if (stopped) break;
      credit--;
      const buf = owned(chunk);
      port?.postMessage({ type: 'data', buf }, [buf]);
    }
    if (!stopped) port?.postMessage({ type: 'done', written });
  } catch (error) {
    const e = error as { message?: string; code?: unknown; name?: string };
    port?.postMessage({
      type: 'error',
      message: e?.message ?? String(error),
      code: typeof e?.code === 'string' ? e.code : undefined,
      name: e?.name,
    });
  }
}

// Ending by itself (the port closed, the loop empty) rather than by terminate(): a native decoder
// whose callback is cut off by a terminating thread may abort the whole process.
void run().finally(() => port?.close());
