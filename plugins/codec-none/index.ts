import { pipeline } from 'node:stream/promises';
import {
  byteCounter,
  type DecompressRequest,
  type DecompressResult,
  type Orchestrator,
  type Plugin,
} from 'ocipull';

const PLUGIN_NAME = 'ocipull-plugin-codec-none';

/** Uncompressed disks: copied through the sparse writer as they stream. */
export default class NoneCodecPlugin implements Plugin {
  readonly name = PLUGIN_NAME;

  apply(orchestrator: Orchestrator): void {
    // No magic: the core falls back to `none` when no codec's magic matches.
    orchestrator.codecs.register({ name: 'none', magic: [], extensions: [], mediaTypes: [] });
    orchestrator.hooks.decompress.for('none').tapPromise(PLUGIN_NAME, (request) => copy(request));
  }
}

async function copy(request: DecompressRequest): Promise<DecompressResult> {
  const counter = byteCounter(request.maxOutputBytes);
  await pipeline(request.input, counter, request.output.createWriteStream(), { signal: request.signal });
  return { bytesWritten: counter.total };
}
