import { PassThrough, type Readable } from 'node:stream';

/**
 * Read the first `n` bytes of a stream (fewer if it ends first) without losing them: the
 * returned stream yields every byte, head included, with back-pressure preserved.
 */
export async function peek(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let total = 0;
  const iterator = input[Symbol.asyncIterator]();
  let done = false;
  while (total < n) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    const chunk = next.value as Buffer;
    chunks.push(chunk);
    total += chunk.length;
  }
  const head = Buffer.concat(chunks).subarray(0, n);
  const output = new PassThrough({ highWaterMark: 1 << 20 });
  // The caller may fail on the head before it reads the rest (a codec mismatch): the input's
  // failure then destroys a stream nobody listens to yet, which must not crash the process.
  // Whoever reads it later still gets the error.
  output.on('error', () => {});
  // The caller may fail on the head before it reads the rest (a codec mismatch): the input's
  // failure then destroys a stream nobody listens to yet, which must not crash the process.
  // Whoever reads it later still gets the error.
  output.on('error', () => {});
  (async () => {
    for (const chunk of chunks) if (!output.write(chunk)) await onceDrain(output);
    if (!done) {
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        if (!output.write(next.value as Buffer)) await onceDrain(output);
      }
    }
    output.end();
  })().catch((error) => output.destroy(error));
  output.on('close', () => {
    if (!output.readableEnded) void iterator.return?.();
  });
  return { head, stream: output };
}

function onceDrain(stream: PassThrough): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onClose = () => {
      cleanup();
      reject(new Error('stream closed'));
    };
    stream.on('drain', onDrain);
    stream.on('close', onClose);
  });
}
