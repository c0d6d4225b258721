/**
 * The first bytes of the disk inside an already compressed `pack` input, so its format can be
 * checked against the disk type and title before anything is published (an uncompressed input's
 * head is read directly). The codec record's stream decoder decodes just that much and is stopped.
 */
import { createReadStream } from 'node:fs';
import type { CodecInfo } from '../types.js';

/**
 * Up to `bytes` decoded bytes of `path`, or undefined when the codec has no stream decoder (zip, a
 * container): then the check is left to `pull`, which checks every disk it writes.
 */
export async function decodedHead(
  path: string,
  codec: CodecInfo,
  bytes: number,
): Promise<Buffer | undefined> {
  if (!codec.decodeStream) return undefined;
  const decoder = codec.decodeStream();
  const source = createReadStream(path, { highWaterMark: 64 << 10 });
  source.on('error', (error) => decoder.destroy(error));
  source.pipe(decoder);
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of decoder) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (length >= bytes) break;
    }
  } catch {
    // A damaged input gives what decoded before the damage; pull reports the damage itself.
  } finally {
    source.destroy();
    decoder.destroy();
  }
  return Buffer.concat(chunks).subarray(0, bytes);
}
