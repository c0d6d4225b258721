import {
  type DecompressRequest,
  decodeInProcess,
  decoderCommand,
  decodeWithChild,
  type Orchestrator,
  type Plugin,
} from 'ocipull';
import { xzDecoder } from './inprocess.js';

const PLUGIN_NAME = 'ocipull-plugin-codec-xz';

export interface XzCodecOptions {
  /** `child` runs the `xz` tool, `inprocess` uses lzma-native, `auto` (default) the tool when installed. */
  mode?: 'auto' | 'child' | 'inprocess';
  /** The xz executable (default: `xz` on PATH). */
  command?: string;
  /** Decoder threads for `xz -d -T` (default 0: one per core; multi-block files decode in parallel). */
  threads?: number;
}

const MAGIC = [Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)];

/** Decodes xz (concatenated streams included) with `xz -d -T0` writing straight into the output, or lzma-native. */
export default class XzCodecPlugin implements Plugin {
  readonly name = PLUGIN_NAME;
  private readonly options: XzCodecOptions;

  constructor(options: XzCodecOptions = {}) {
    this.options = options;
  }

  apply(orchestrator: Orchestrator): void {
    orchestrator.codecs.register({
      name: 'xz',
      magic: MAGIC,
      extensions: ['xz'],
      mediaTypes: ['application/x-xz'],
    });
    orchestrator.hooks.decompress.for('xz').tapPromise(PLUGIN_NAME, (request) => this.decompress(request));
  }

  private decompress(request: DecompressRequest) {
    const command = decoderCommand(this.options, 'xz', 'xz', 'xz-utils');
    if (command) {
      // xz makes holes on a regular-file stdout by default; --no-sparse writes every byte.
      const args = ['-d', '-c', '-q', '--format=xz', `-T${this.options.threads ?? 0}`];
      if (!request.output.sparse) args.push('--no-sparse');
      return decodeWithChild(request, { command, args, direct: true });
    }
    // lzma-native pushes all output of a chunk at once: small input slices bound that burst.
    return decodeInProcess(request, xzDecoder(), {
      sliceInput: 16 << 10,
      classify: (error) =>
        (error as { code?: string })?.code === 'LZMA_BUF_ERROR' ||
        /unexpected end|no progress/i.test(String((error as Error)?.message))
          ? 'truncated'
          : 'corrupt',
    });
  }
}
