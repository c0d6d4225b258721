import { createGunzip } from 'node:zlib';
import {
  type DecompressRequest,
  decodeInProcess,
  decoderCommand,
  decodeWithChild,
  type Orchestrator,
  type Plugin,
} from 'ocipull';

const PLUGIN_NAME = 'ocipull-plugin-codec-gzip';

export interface GzipCodecOptions {
  /** `child` runs `gzip -d`, `inprocess` uses node:zlib, `auto` (default) the tool when installed. */
  mode?: 'auto' | 'child' | 'inprocess';
  command?: string;
}

const MAGIC = [Uint8Array.of(0x1f, 0x8b)];

/** Decodes gzip, every member of a multi-member file. */
export default class GzipCodecPlugin implements Plugin {
  readonly name = PLUGIN_NAME;
  private readonly options: GzipCodecOptions;

  constructor(options: GzipCodecOptions = {}) {
    this.options = options;
  }

  apply(orchestrator: Orchestrator): void {
    orchestrator.codecs.register({
      name: 'gzip',
      magic: MAGIC,
      extensions: ['gz', 'gzip'],
      mediaTypes: ['application/gzip', 'application/x-gzip'],
    });
    orchestrator.hooks.decompress.for('gzip').tapPromise(PLUGIN_NAME, (request) => this.decompress(request));
  }

  private decompress(request: DecompressRequest) {
    const command = decoderCommand(this.options, 'gzip', 'gzip');
    if (command) {
      // gzip makes no holes: it writes into the file itself only when none are wanted.
      return decodeWithChild(request, {
        command,
        args: ['-d', '-c', '-q'],
        direct: !request.output.sparse,
        // Status 2 is a warning; trailing zeros (padding) after the last member are accepted.
        succeeded: (status, stderr) =>
          status === 0 || (status === 2 && !/unexpected end|crc error|invalid/i.test(stderr)),
      });
    }
    return decodeInProcess(request, createGunzip({ chunkSize: 256 << 10 }), {
      classify: (error) => ((error as { code?: string })?.code === 'Z_BUF_ERROR' ? 'truncated' : 'corrupt'),
    });
  }
}
