import {
  type DecompressRequest,
  decodeInProcess,
  decoderCommand,
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

/** Decodes bzip2, concatenated streams included. */
export default class Bzip2CodecPlugin implements Plugin {
  readonly name = PLUGIN_NAME;
  private readonly options: Bzip2CodecOptions;

  constructor(options: Bzip2CodecOptions = {}) {
    this.options = options;
  }

  apply(orchestrator: Orchestrator): void {
    orchestrator.codecs.register({
      name: 'bzip2',
      magic: MAGIC,
      extensions: ['bz2', 'bzip2'],
      mediaTypes: ['application/x-bzip2'],
    });
    orchestrator.hooks.decompress.for('bzip2').tapPromise(PLUGIN_NAME, (request) => this.decompress(request));
  }

  private decompress(request: DecompressRequest) {
    const command = decoderCommand(this.options, 'bzip2', 'bzip2');
    if (command) {
      return decodeWithChild(request, {
        command,
        args: ['-d', '-c'],
        direct: !request.output.sparse,
        classify: (stderr) => (/ends unexpectedly/i.test(stderr) ? 'truncated' : 'corrupt'),
      });
    }
    return decodeInProcess(request, bzip2Decoder(), {
      classify: (error) =>
        /ended prematurely|unexpected end/i.test(String((error as Error)?.message)) ? 'truncated' : 'corrupt',
    });
  }
}
