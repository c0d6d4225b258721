/**
 * Shared machinery for codec plugins: run a decoder as a child process (writing straight into the
 * output file, or piped through the sparse writer), or run an in-process decoder stream, with the
 * same back-pressure, expansion limit, abort and error mapping either way.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, fstatSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { type Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isOcipullError, OcipullError } from '../errors/errors.js';
import type { DecompressRequest, DecompressResult } from '../types.js';

export type DecoderMode = 'auto' | 'child' | 'inprocess';
/** `trailing`: the last stream ended and bytes other than another stream (or accepted padding) follow. */
export type DecodeFailure = 'corrupt' | 'truncated' | 'trailing';

const located = new Map<string, string | undefined>();

/** The absolute path of an executable on PATH, or undefined. */
export function findExecutable(name: string): string | undefined {
  if (located.has(name)) return located.get(name);
  let found: string | undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      found = join(dir, name);
      break;
    } catch {}
  }
  located.set(name, found);
  return found;
}

/**
 * The decoder mode a codec plugin runs in: its `mode` option, else `OCIPULL_CODEC_MODE_<NAME>`,
 * else `OCIPULL_CODEC_MODE`, else `auto` (a child process when the tool is installed).
 */
export function decoderMode(option: unknown, codec: string): DecoderMode {
  const env = process.env[`OCIPULL_CODEC_MODE_${codec.toUpperCase()}`] || process.env.OCIPULL_CODEC_MODE;
  const value = option ?? env ?? 'auto';
  if (value === 'auto' || value === 'child' || value === 'inprocess') return value;
  throw new OcipullError('CONFIG_INVALID', `codec ${codec}: mode ${JSON.stringify(value)} is not known`, {
    hint: 'use auto, child or inprocess',
  });
}

/**
 * The decoder tool a codec plugin runs, or undefined to decode in process: the plugin's `command`
 * option, else `tool` on PATH, unless the mode is `inprocess`. Mode `child` with no tool is NO_CODEC.
 */
export function decoderCommand(
  options: { mode?: unknown; command?: string },
  codec: string,
  tool: string,
  debianPackage = tool,
): string | undefined {
  const mode = decoderMode(options.mode, codec);
  if (mode === 'inprocess') return undefined;
  const command = options.command ?? findExecutable(tool);
  if (!command && mode === 'child') {
    throw new OcipullError('NO_CODEC', `${codec} mode is "child" but no ${tool} executable is on PATH`, {
      hint: `install ${debianPackage}, or use mode auto / inprocess`,
    });
  }
  return command;
}

/**
 * What an in-process decoder's failure is reported as: the abort's reason, else the input's own
 * failure (the network, a digest mismatch), else an ocipull error as it is, else the codec's
 * complaint as the DECOMPRESS_* code its classifier names.
 */
export function inProcessFailure(
  error: unknown,
  how: {
    codec: string;
    signal: AbortSignal;
    watched: { failure(): unknown };
    classify(error: unknown): DecodeFailure;
  },
): unknown {
  if (how.signal.aborted) return how.signal.reason;
  const inputError = how.watched.failure();
  if (inputError !== undefined) return inputError;
  if (isOcipullError(error)) return error;
  const message = (error as Error)?.message ?? String(error);
  return decodeError(how.codec, how.classify(error), message, error);
}

export function decodeError(
  codec: string,
  kind: DecodeFailure,
  detail: string,
  cause?: unknown,
): OcipullError {
  const what = {
    truncated: 'ends before its end marker',
    corrupt: 'is corrupt',
    trailing: 'is followed by data that is not another stream',
  }[kind];
  const code = {
    truncated: 'DECOMPRESS_TRUNCATED',
    corrupt: 'DECOMPRESS_CORRUPT',
    trailing: 'DECOMPRESS_TRAILING_DATA',
  } as const;
  return new OcipullError(code[kind], `the ${codec} stream ${what}: ${detail.trim()}`, {
    hint:
      kind === 'trailing'
        ? 'the same bytes are refused by every decoder mode; republish the disk without what was appended'
        : 'the image was published damaged or mislabelled; no output was kept',
    cause,
  });
}

/** What the end of a decoder's input looked like (see `trackInput`). */
export interface InputTail {
  /** Bytes read. */
  total: number;
  /** Offset of the last non-zero byte, or -1. */
  lastNonZero: number;
  /** Up to 8 bytes ending at the last non-zero byte. */
  beforeZeros: Buffer;
}

/**
 * Pass the input through unchanged, remembering how it ended: its length, where its final run
 * of zero bytes starts, and the bytes before that run. Codecs use it to tell zero padding after
 * the last stream from other trailing data, the same way in every decoder mode.
 */
export function trackInput(input: Readable): { input: Readable; tail(): InputTail } {
  let total = 0;
  let lastNonZero = -1;
  let recent = Buffer.alloc(0);
  let beforeZeros = Buffer.alloc(0);
  const tracker = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, callback) {
      let i = chunk.length - 1;
      while (i >= 0 && chunk[i] === 0) i--;
      if (i >= 0) {
        lastNonZero = total + i;
        beforeZeros = Buffer.concat([recent, chunk.subarray(Math.max(0, i - 7), i + 1)]).subarray(-8);
      }
      recent = Buffer.concat([recent, chunk.subarray(-8)]).subarray(-8);
      total += chunk.length;
      callback(null, chunk);
    },
  });
  input.on('error', (error) => tracker.destroy(error));
  // A decoder that stops early destroys the tracker: the input goes with it, as it would without.
  tracker.once('close', () => {
    if (!input.destroyed && !input.readableEnded) input.destroy();
  });
  input.pipe(tracker);
  return { input: tracker, tail: () => ({ total, lastNonZero, beforeZeros }) };
}

export function expansionError(limit: number): OcipullError {
  return new OcipullError('EXPANSION_LIMIT', `decompressed output passed the ${limit}-byte limit`, {
    hint: 'raise maxExpansionRatio in config if the image is genuine',
  });
}

/** Counts bytes through and fails with EXPANSION_LIMIT past `limit`. */
export function byteCounter(
  limit: number | undefined,
  onBytes?: (total: number) => void,
): Transform & { total: number } {
  const counter = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, callback) {
      counter.total += chunk.length;
      onBytes?.(counter.total);
      if (limit !== undefined && counter.total > limit) callback(expansionError(limit));
      else callback(null, chunk);
    },
  }) as Transform & { total: number };
  counter.total = 0;
  return counter;
}

/** Re-chunk a stream into pieces of at most `size` bytes (bounds what one decoder call produces). */
export function sliceChunks(size: number): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (source) {
    for await (const chunk of source) {
      for (let i = 0; i < chunk.length; i += size) yield chunk.subarray(i, i + size);
    }
  };
}

export interface ChildDecoder {
  /** Executable path. */
  command: string;
  args: string[];
  /** The child writes into `output.fd` itself (and makes its own holes); else its stdout goes through `output.createWriteStream()`. */
  direct: boolean;
  /** Exit status accepted as success, given what the child printed (default: status 0). */
  succeeded?(status: number, stderr: string): boolean;
  /** Which failure a non-zero exit was (default: `truncated` when stderr says the input ended early). */
  classify?(stderr: string): DecodeFailure;
}

const TRUNCATED = /premature end|unexpected end|ends unexpectedly|truncated|incomplete/i;
const PIPE_CODES = new Set(['EPIPE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET']);

function settled(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error ?? new Error('failed'),
  );
}

/**
 * The input as pipeline()'s source, remembering a failure of the input's own. pipeline() destroys
 * a stream source with whatever failed downstream (a dead child's EPIPE, a decoder's error), so
 * an 'error' listener on the input cannot tell who failed first; an iterator can: a downstream
 * failure leaves it suspended, only the input's own failure is thrown into it. After a failure
 * the input is destroyed with it, as pipeline() would have done.
 */
export function watchInput(input: Readable): {
  source: AsyncGenerator<Buffer>;
  failure(): unknown;
  release(error: unknown): void;
} {
  let failed: unknown;
  const noop = () => {};
  input.on('error', noop);
  async function* source(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of input) yield chunk as Buffer;
    } catch (error) {
      failed = error ?? new Error('input failed');
      throw error;
    }
  }
  return {
    source: source(),
    failure: () => failed,
    release(error) {
      if (error !== undefined && !input.destroyed) input.destroy(error as Error);
      // A late error from a destroyed input must not go unhandled.
      setImmediate(() => input.off('error', noop));
    },
  };
}

/** Decode by piping the input into a child process. */
export async function decodeWithChild(
  request: DecompressRequest,
  decoder: ChildDecoder,
): Promise<DecompressResult> {
  const { input, output, signal, maxOutputBytes, codec } = request;
  signal.throwIfAborted();
  // A block device is written through the output's stream, which stops at the device's end.
  const direct = decoder.direct && !output.device;
  const child = spawn(decoder.command, decoder.args, {
    stdio: ['pipe', direct ? output.fd : 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    if (stderr.length < 8192) stderr += text;
  });
  const exited = new Promise<{ status: number | null; spawnError?: Error }>((resolve) => {
    child.once('error', (spawnError) => resolve({ status: null, spawnError }));
    child.once('close', (status) => resolve({ status }));
  });
  let stopped: unknown;
  const stop = (reason: unknown) => {
    stopped ??= reason;
    child.kill('SIGKILL');
  };
  const onAbort = () => stop(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const watched = watchInput(input);
  let fed: unknown;

  let timer: NodeJS.Timeout | undefined;
  let counter: ReturnType<typeof byteCounter> | undefined;
  let draining: Promise<unknown> = Promise.resolve(undefined);
  if (direct) {
    if (maxOutputBytes !== undefined) {
      timer = setInterval(() => {
        if (fstatSync(output.fd).size > maxOutputBytes) stop(expansionError(maxOutputBytes));
      }, 100);
    }
  } else {
    counter = byteCounter(maxOutputBytes);
    draining = settled(pipeline(child.stdout as Readable, counter, output.createWriteStream()));
  }
  try {
    fed = await settled(pipeline(watched.source, child.stdin as Writable));
    if (fed !== undefined) {
      const code = (fed as { code?: string }).code;
      const inputError = watched.failure();
      // A child that died (corrupt data) closes its stdin: that is reported from its exit status.
      if (inputError !== undefined || !code || !PIPE_CODES.has(code)) stop(inputError ?? fed);
    }
    const { status, spawnError } = await exited;
    const drained = await draining;
    if (stopped !== undefined) throw stopped;
    if (spawnError) {
      throw new OcipullError('NO_CODEC', `cannot run ${decoder.command}: ${spawnError.message}`, {
        cause: spawnError,
      });
    }
    if (isOcipullError(drained)) throw drained;
    const ok = status !== null && (decoder.succeeded?.(status, stderr) ?? status === 0);
    if (!ok) {
      const kind = decoder.classify?.(stderr) ?? (TRUNCATED.test(stderr) ? 'truncated' : 'corrupt');
      throw decodeError(codec, kind, firstLine(stderr) || `${decoder.command} exited with status ${status}`);
    }
    if (drained !== undefined) throw drained;
    const bytesWritten = counter ? counter.total : fstatSync(output.fd).size;
    if (maxOutputBytes !== undefined && bytesWritten > maxOutputBytes) throw expansionError(maxOutputBytes);
    return { bytesWritten };
  } finally {
    clearInterval(timer);
    signal.removeEventListener('abort', onAbort);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    watched.release(fed);
  }
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .find((line) => line.length > 0) ?? ''
  );
}

/** A decoding step for `decodeInProcess`: a Transform stream or an async generator over the input. */
export type InProcessDecoder = Transform | ((source: AsyncIterable<Buffer>) => AsyncIterable<Buffer>);

export interface InProcessOptions {
  /** Turn what the decoder threw into DECOMPRESS_CORRUPT / DECOMPRESS_TRUNCATED. */
  classify(error: unknown): DecodeFailure;
  /** Feed the decoder at most this many input bytes at a time (bounds decoders that ignore back-pressure). */
  sliceInput?: number;
}

/** Decode in this process: input → decoder → expansion limit → sparse writer, with back-pressure. */
export async function decodeInProcess(
  request: DecompressRequest,
  decoder: InProcessDecoder | InProcessDecoder[],
  options: InProcessOptions,
): Promise<DecompressResult> {
  const { input, output, signal, maxOutputBytes, codec } = request;
  signal.throwIfAborted();
  const watched = watchInput(input);
  let failure: unknown;
  const counter = byteCounter(maxOutputBytes);
  const steps: Array<
    | AsyncIterable<Buffer>
    | Readable
    | Transform
    | Writable
    | ((s: AsyncIterable<Buffer>) => AsyncIterable<Buffer>)
  > = [watched.source];
  if (options.sliceInput) steps.push(sliceChunks(options.sliceInput));
  steps.push(...(Array.isArray(decoder) ? decoder : [decoder]), counter, output.createWriteStream());
  try {
    // biome-ignore lint/suspicious/noExplicitAny: pipeline's variadic overloads do not take an array
    await (pipeline as any)(...steps, { signal });
    return { bytesWritten: counter.total };
  } catch (error) {
    failure = error;
    throw inProcessFailure(error, { codec, signal, watched, classify: options.classify });
  } finally {
    watched.release(failure);
  }
}
