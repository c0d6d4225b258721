import { createGunzip, createGzip } from 'node:zlib';
import {
  type CodecInfo,
  type DecodeFailure,
  type DecompressRequest,
  decodeError,
  decodeInProcess,
  decoderCommand,
  decoderStream,
  decodeWithChild,
  type InputTail,
  type Orchestrator,
  type Plugin,
  trackInput,
} from 'ocipull';

const PLUGIN_NAME = 'ocipull-plugin-codec-gzip';

export interface GzipCodecOptions {
  /** `child` runs `gzip -d`, `inprocess` uses node:zlib, `auto` (default) the tool when installed. */
  mode?: 'auto' | 'child' | 'inprocess';
  command?: string;
}

const MAGIC = [Uint8Array.of(0x1f, 0x8b)];

/** What node:zlib's errors mean. */
function classifyInProcess(error: unknown): DecodeFailure {
  const code = (error as { code?: string })?.code;
  if (code === 'Z_BUF_ERROR') return 'truncated';
  // The first member's magic was checked before decoding: a bad header is a later "member".
  return /incorrect header check/i.test((error as Error)?.message ?? '') ? 'trailing' : 'corrupt';
}

/** node:zlib stops at a zero byte after a member and ignores the rest; gzip reads on. */
function checkTail(tail: InputTail, consumed: number): void {
  if (tail.lastNonZero >= consumed) {
    throw decodeError(
      'gzip',
      'trailing',
      `${tail.total - consumed} bytes after the last member, not all zero`,
    );
  }
}

/** The gzip record: node:zlib decodes and encodes in process; the gzip tool is preferred for pack. */
export const GZIP_CODEC: CodecInfo = {
  name: 'gzip',
  magic: MAGIC,
  extensions: ['gz', 'gzip'],
  mediaTypes: ['application/gzip', 'application/x-gzip'],
  decodeStream: () =>
    decoderStream('gzip', () => {
      const gunzip = createGunzip({ chunkSize: 256 << 10 });
      return {
        steps: [gunzip],
        classify: classifyInProcess,
        finish: (tail) => checkTail(tail, gunzip.bytesWritten),
      };
    }),
  encoder: { command: 'gzip', args: ['-c', '-n'], stream: (level = 6) => createGzip({ level }) },
};

/**
 * Decodes gzip, every member of a multi-member file. Zero bytes after the last member are padding
 * (gzip takes them); any other trailing byte is DECOMPRESS_TRAILING_DATA, in either mode.
 */
export default class GzipCodecPlugin implements Plugin {
  readonly name = PLUGIN_NAME;
  private readonly options: GzipCodecOptions;

  constructor(options: GzipCodecOptions = {}) {
    this.options = options;
  }

  apply(orchestrator: Orchestrator): void {
    orchestrator.codecs.register(GZIP_CODEC);
    orchestrator.hooks.decompress.for('gzip').tapPromise(PLUGIN_NAME, (request) => this.decompress(request));
  }

  private async decompress(request: DecompressRequest) {
    const command = decoderCommand(this.options, 'gzip', 'gzip');
    if (command) {
      // gzip makes no holes: it writes into the file itself only when none are wanted.
      return decodeWithChild(request, {
        command,
        args: ['-d', '-c'],
        direct: !request.output.sparse,
        // Status 2 is a warning: trailing zeros are taken silently, other trailing bytes are not.
        succeeded: (status, stderr) =>
          status === 0 ||
          (status === 2 && !/unexpected end|crc error|invalid|trailing garbage/i.test(stderr)),
        classify: (stderr) =>
          /trailing garbage/i.test(stderr)
            ? 'trailing'
            : /unexpected end|premature end/i.test(stderr)
              ? 'truncated'
              : 'corrupt',
      });
    }
    const tracked = trackInput(request.input);
    const gunzip = createGunzip({ chunkSize: 256 << 10 });
    const result = await decodeInProcess({ ...request, input: tracked.input }, gunzip, {
      classify: classifyInProcess,
    });
    checkTail(tracked.tail(), gunzip.bytesWritten);
    return result;
  }
}
