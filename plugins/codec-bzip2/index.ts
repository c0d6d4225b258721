import {
  type CodecInfo,
  type DecodeFailure,
  type DecompressRequest,
  decodeInProcess,
  decoderCommand,
  decoderStream,
  decodeWithChild,
  type Orchestrator,
  type Plugin,
} from 'ocipull';
import { bzip2Decoder } from './inprocess.js';

const PLUGIN_NAME = 'ocipull-plugin-codec-bzip2';

export interface Bzip2CodecOptions {
  /** `child` runs `bzip2 -d`, `inprocess` uses unbzip2-stream, `auto` (default) the tool when installed. */
  mode?: 'auto' | 'child' | 'inprocess';
  command?: string;
}

const MAGIC = [Uint8Array.of(0x42, 0x5a, 0x68)]; // "BZh"

/** What unbzip2-stream's errors mean. */
function classifyInProcess(error: unknown): DecodeFailure {
  const message = String((error as Error)?.message);
  // The first stream's magic was checked before decoding: a missing one is after a stream.
  if (/no magic number/i.test(message)) return 'trailing';
  return /ended prematurely|unexpected end/i.test(message) ? 'truncated' : 'corrupt';
}

/** The bzip2 record. No encoder: `pack` publishes bzip2 only when the input already is. */
export const BZIP2_CODEC: CodecInfo = {
  name: 'bzip2',
  magic: MAGIC,
  extensions: ['bz2', 'bzip2'],
  mediaTypes: ['application/x-bzip2'],
  decodeStream: () =>
    decoderStream('bzip2', () => ({ steps: [bzip2Decoder()], classify: classifyInProcess })),
};

/**
 * Decodes bzip2, concatenated streams included. Nothing may follow the last stream, zero bytes
 * neither (bzip2 only warns about them): DECOMPRESS_TRAILING_DATA in either mode.
 */
export default class Bzip2CodecPlugin implements Plugin {
  readonly name = PLUGIN_NAME;
  private readonly options: Bzip2CodecOptions;

  constructor(options: Bzip2CodecOptions = {}) {
    this.options = options;
  }

  apply(orchestrator: Orchestrator): void {
    orchestrator.codecs.register(BZIP2_CODEC);
    orchestrator.hooks.decompress.for('bzip2').tapPromise(PLUGIN_NAME, (request) => this.decompress(request));
  }

  private decompress(request: DecompressRequest) {
    const command = decoderCommand(this.options, 'bzip2', 'bzip2');
    if (command) {
      return decodeWithChild(request, {
        command,
        args: ['-d', '-c'],
        direct: !request.output.sparse,
        // bzip2 decodes the streams, then warns (status 0) about whatever follows them.
        succeeded: (status, stderr) => status === 0 && !/trailing garbage/i.test(stderr),
        classify: (stderr) =>
          /trailing garbage/i.test(stderr)
            ? 'trailing'
            : /ends unexpectedly/i.test(stderr)
              ? 'truncated'
              : 'corrupt',
      });
    }
    return decodeInProcess(request, bzip2Decoder(), { classify: classifyInProcess });
  }
}
