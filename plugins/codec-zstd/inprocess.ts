import { createRequire } from 'node:module';

interface DCtx {
  /** Returns [hint (0 at a frame end), bytes produced, bytes consumed]. */
  decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
}

const require = createRequire(import.meta.url);
const binding = require('zstd-napi/binding') as { DCtx: new () => DCtx; dStreamOutSize(): number };

const OUT_SIZE = 1 << 20;

/**
 * zstd-napi's own stream pushes a whole frame's output at once (gigabytes for a run of zeros), so
 * drive the native context here: one bounded output buffer per step, each yielded (and written)
 * before the next is produced.
 */
export function zstdDecoder(): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (source) {
    const dctx = new binding.DCtx();
    let inFrame = false;
    let out = Buffer.allocUnsafe(OUT_SIZE);
    for await (const chunk of source) {
      let input: Buffer = chunk;
      for (;;) {
        const [hint, produced, consumed] = dctx.decompressStream(out, input);
        input = input.subarray(consumed);
        inFrame = hint !== 0;
        if (produced === out.length) {
          yield out;
          out = Buffer.allocUnsafe(OUT_SIZE);
        } else if (produced > 0) {
          // A copy, so a few bytes never pin a whole megabyte while queued.
          yield Buffer.from(out.subarray(0, produced));
        }
        if (input.length === 0 && produced < out.length) break;
      }
    }
    if (inFrame) throw new Error('the input ended in the middle of a frame (truncated)');
  };
}
