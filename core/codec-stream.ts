/**
 * A codec's in-process decoder as a plain stream transform (`CodecInfo.decodeStream`): no output
 * file, no expansion limit (the consumer counts what it keeps), the same failure codes as the
 * `decompress` hook. Any artifact kind can put one in a pipeline (a compressed tar layer, a part
 * decoded into a tree).
 */
import { Duplex, PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isAbortError, isOcipullError } from './errors/errors.js';
import {
  type DecodeFailure,
  decodeError,
  type InProcessDecoder,
  type InputTail,
  sliceChunks,
} from './pipeline/decoder.js';

/** What one decoding needs; built afresh for every stream. */
export interface StreamDecoderParts {
  /** The decoding steps, in order (Transform streams or async generator functions). */
  steps: InProcessDecoder[];
  /** Which failure an error a step threw is; `tail` says how the input ended so far. */
  classify(error: unknown, tail: InputTail): DecodeFailure;
  /** Feed the steps at most this many input bytes at a time (decoders that ignore back-pressure). */
  sliceInput?: number;
  /** Run after the steps ended with how the input ended: throw (`decodeError`) to refuse trailing bytes. */
  finish?(tail: InputTail): void;
}

/** How the input ended (see `trackInput`), kept as bytes pass, with no buffering of its own. */
function tailOf(source: AsyncIterable<Buffer>): { chunks: AsyncGenerator<Buffer>; tail(): InputTail } {
  const tail: InputTail = { total: 0, lastNonZero: -1, beforeZeros: Buffer.alloc(0) };
  let recent = Buffer.alloc(0);
  async function* chunks() {
    for await (const chunk of source) {
      let i = chunk.length - 1;
      while (i >= 0 && chunk[i] === 0) i--;
      if (i >= 0) {
        tail.lastNonZero = tail.total + i;
        tail.beforeZeros = Buffer.concat([recent, chunk.subarray(Math.max(0, i - 7), i + 1)]).subarray(-8);
      }
      recent = Buffer.concat([recent, chunk.subarray(-8)]).subarray(-8);
      tail.total += chunk.length;
      yield chunk;
    }
  }
  return { chunks: chunks(), tail: () => ({ ...tail }) };
}

/**
 * A Duplex decoding `codec`: write compressed bytes, read decoded ones. It holds little beyond
 * what its steps buffer, so a consumer that stops reading stops the input soon (a tar's first
 * header is known long before its layer is read).
 */
export function decoderStream(codec: string, build: () => StreamDecoderParts): Duplex {
  return Duplex.from(async function* (source: AsyncIterable<Buffer>) {
    const parts = build();
    const tracked = tailOf(source);
    const steps: InProcessDecoder[] = [];
    if (parts.sliceInput) steps.push(sliceChunks(parts.sliceInput));
    steps.push(...parts.steps);
    const sink = new PassThrough();
    // biome-ignore lint/suspicious/noExplicitAny: pipeline's variadic overloads do not take an array
    const done: Promise<unknown> = (pipeline as any)(tracked.chunks, ...steps, sink).then(
      () => undefined,
      (error: unknown) => error ?? new Error('the decoder failed'),
    );
    try {
      // A failing step destroys the sink too; the first error is the pipeline's.
      for await (const chunk of sink) yield chunk as Buffer;
    } catch {
    } finally {
      // The reader stopped early (or failed): tear the steps down with it.
      if (!sink.readableEnded) sink.destroy();
    }
    const error = await done;
    if (error !== undefined) {
      if (isOcipullError(error) || isAbortError(error)) throw error;
      const message = (error as Error)?.message ?? String(error);
      throw decodeError(codec, parts.classify(error, tracked.tail()), message, error);
    }
    parts.finish?.(tracked.tail());
  });
}
