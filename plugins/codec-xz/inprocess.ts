import { createRequire } from 'node:module';
import type { Transform } from 'node:stream';

const require = createRequire(import.meta.url);
const lzma = require('lzma-native') as {
  createStream(coder: 'streamDecoder', options: { memlimit?: number; synchronous?: boolean }): Transform;
};

/** An lzma-native .xz decoder (concatenated streams are decoded one after the other). */
export function xzDecoder(): Transform {
  return lzma.createStream('streamDecoder', { memlimit: 1 << 30 });
}
