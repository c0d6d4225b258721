import unbzip2 from 'unbzip2-stream';

/**
 * unbzip2-stream is a classic `through` stream (synchronous, no back-pressure), so drive it by
 * hand: write one input slice, hand on what it produced (a block or two), then the next slice.
 */
export function bzip2Decoder(
  sliceSize = 64 << 10,
): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (source) {
    const decoder = unbzip2();
    const produced: Buffer[] = [];
    let failure: unknown;
    decoder.on('data', (chunk: Buffer) => produced.push(chunk));
    decoder.on('error', (error: unknown) => {
      failure ??= error;
    });
    for await (const chunk of source) {
      for (let i = 0; i < chunk.length; i += sliceSize) {
        decoder.write(chunk.subarray(i, i + sliceSize));
        if (failure) throw failure;
        while (produced.length > 0) yield produced.shift()!;
      }
    }
    decoder.end();
    // Blocks are decoded only once fully buffered, so a failure at the end (other than a CRC
    // mismatch) means the input stopped inside a block.
    if (failure) {
      const message = (failure as Error)?.message ?? String(failure);
      // A stream header that is not "BZh" after a complete stream: trailing data, not truncation.
      throw /crc|no magic number/i.test(message)
        ? failure
        : new Error(`input stream ended prematurely (${message})`);
    }
    while (produced.length > 0) yield produced.shift()!;
  };
}
