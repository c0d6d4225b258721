import { createRequire } from 'node:module';
import type { Transform } from 'node:stream';
import {
  type CodecInfo,
  type DecodeFailure,
  type DecompressRequest,
  decodeError,
  decodeInWorker,
  decoderCommand,
  decoderStream,
  decodeWithChild,
  type InputTail,
  type Orchestrator,
  type Plugin,
  trackInput,
  workerDecoder,
} from 'ocipull';

const PLUGIN_NAME = 'ocipull-plugin-codec-xz';

const require = createRequire(import.meta.url);
const lzma = require('lzma-native') as {
  createStream(coder: 'easyEncoder', options: { preset?: number }): Transform;
};

export interface XzCodecOptions {
  /** `child` runs the `xz` tool, `inprocess` uses lzma-native, `auto` (default) the tool when installed. */
  mode?: 'auto' | 'child' | 'inprocess';
  /** The xz executable (default: `xz` on PATH). */
  command?: string;
  /** Decoder threads for `xz -d -T` (default 0: one per core; multi-block files decode in parallel). */
  threads?: number;
}

const MAGIC = [Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)];

/** What lzma-native's errors mean, given how the input ended. */
function classifyInProcess(error: unknown, tail: InputTail): DecodeFailure {
  if (badPadding(tail)) return 'trailing';
  return (error as { code?: string })?.code === 'LZMA_BUF_ERROR' ||
    /unexpected end|no progress/i.test(String((error as Error)?.message))
    ? 'truncated'
    : 'corrupt';
}

/**
 * lzma-native stops at the padding and ignores what follows it; xz reads it all. A stream ends
 * with its footer magic "YZ": the input must end there, or in whole padding words.
 */
function checkTail(tail: InputTail): void {
  if (badPadding(tail) || tail.beforeZeros.subarray(-2).toString('latin1') !== 'YZ') {
    throw decodeError('xz', 'trailing', 'the bytes after the last stream are not stream padding');
  }
}

/** lzma-native driven in bounded steps (./worker.ts) in a worker thread. */
// It copies each input slice into liblzma before asking for more: its input buffers are reused.
const XZ_WORKER = {
  module: new URL('./worker.js', import.meta.url).href,
  name: 'xzThreadDecoder',
  reuseInput: true,
};
function xzWorker() {
  return workerDecoder(XZ_WORKER);
}

/** The xz record: lzma-native decodes and encodes in process; the xz tool is preferred for pack. */
export const XZ_CODEC: CodecInfo = {
  name: 'xz',
  magic: MAGIC,
  extensions: ['xz'],
  mediaTypes: ['application/x-xz'],
  decodeStream: () =>
    decoderStream('xz', () => ({
      // In a worker thread, its output bounded by adaptive input slices (./worker.ts): an xz tar
      // layer never decodes on the main thread.
      steps: [xzWorker()],
      classify: classifyInProcess,
      finish: checkTail,
    })),
  encoder: {
    command: 'xz',
    args: ['-T0', '-c'],
    package: 'xz-utils',
    stream: (level = 6) => lzma.createStream('easyEncoder', { preset: level }),
  },
};

/**
 * Decodes xz (concatenated streams included) with `xz -d -T0` writing straight into the output,
 * or lzma-native. After the last stream only stream padding may follow (zero bytes, a multiple
 * of four, as the .xz format says): other padding is DECOMPRESS_TRAILING_DATA in either mode.
 */
export default class XzCodecPlugin implements Plugin {
  readonly name = PLUGIN_NAME;
  private readonly options: XzCodecOptions;

  constructor(options: XzCodecOptions = {}) {
    this.options = options;
  }

  apply(orchestrator: Orchestrator): void {
    orchestrator.codecs.register(XZ_CODEC);
    orchestrator.hooks.decompress.for('xz').tapPromise(PLUGIN_NAME, (request) => this.decompress(request));
  }

  private async decompress(request: DecompressRequest) {
    const command = decoderCommand(this.options, 'xz', 'xz', 'xz-utils');
    const tracked = trackInput(request.input);
    const input = tracked.input;
    if (command) {
      // xz makes holes on a regular-file stdout by default; --no-sparse writes every byte.
      const args = ['-d', '-c', '-q', '--format=xz', `-T${this.options.threads ?? 0}`];
      if (!request.output.sparse) args.push('--no-sparse');
      return decodeWithChild(
        { ...request, input },
        {
          command,
          args,
          direct: true,
          classify: (stderr) =>
            badPadding(tracked.tail())
              ? 'trailing'
              : /unexpected end/i.test(stderr)
                ? 'truncated'
                : 'corrupt',
        },
      );
    }
    // lzma-native in a worker thread, its output bounded by adaptive input slices (./worker.ts).
    // Written by the worker itself (decodeInWorker): decoded bytes never come back to this thread.
    const result = await decodeInWorker({ ...request, input }, XZ_WORKER, {
      classify: (error) => classifyInProcess(error, tracked.tail()),
    });
    checkTail(tracked.tail());
    return result;
  }
}

/** The input ends in an xz stream footer ("YZ") and then zeros that are not a multiple of four. */
function badPadding(tail: InputTail): boolean {
  const zeros = tail.total - tail.lastNonZero - 1;
  return zeros % 4 !== 0 && tail.beforeZeros.subarray(-2).toString('latin1') === 'YZ';
}
