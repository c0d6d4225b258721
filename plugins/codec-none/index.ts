import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  byteCounter,
  type CodecInfo,
  type DecompressRequest,
  type DecompressResult,
  type Orchestrator,
  type Plugin,
} from 'ocipull';

const PLUGIN_NAME = 'ocipull-plugin-codec-none';

/**
 * The record of uncompressed data: no magic (the core falls back to it when no codec's magic
 * matches), no title extension; `pack --compress none` publishes the bytes as they are.
 */
export const NONE_CODEC: CodecInfo = {
  name: 'none',
  magic: [],
  extensions: [],
  mediaTypes: [],
  layerMediaType: 'application/octet-stream',
  decodeStream: () => new PassThrough({ highWaterMark: 1 << 20 }),
  encoder: { stream: () => new PassThrough({ highWaterMark: 1 << 20 }) },
};

/** Uncompressed disks: copied through the sparse writer as they stream. */
export default class NoneCodecPlugin implements Plugin {
  readonly name = PLUGIN_NAME;

  apply(orchestrator: Orchestrator): void {
    orchestrator.codecs.register(NONE_CODEC);
    orchestrator.hooks.decompress.for('none').tapPromise(PLUGIN_NAME, (request) => copy(request));
  }
}

async function copy(request: DecompressRequest): Promise<DecompressResult> {
  const counter = byteCounter(request.maxOutputBytes);
  await pipeline(request.input, counter, request.output.createWriteStream(), { signal: request.signal });
  return { bytesWritten: counter.total };
}
