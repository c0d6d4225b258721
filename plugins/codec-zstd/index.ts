import { createRequire } from 'node:module';
import type { Transform } from 'node:stream';
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
  workerDecoder,
} from 'ocipull';
import { decodeArriving, probe, replay, useFrames } from './arriving.js';
import { decodeFrames, parallelPlan } from './parallel.js';
import { decodeToOutput } from './stream.js';

const PLUGIN_NAME = 'ocipull-plugin-codec-zstd';
/** See `ZstdCodecOptions.parallelMinBytes`. */
const PARALLEL_MIN_BYTES = 256 << 20;

const require = createRequire(import.meta.url);
const { CompressStream } = require('zstd-napi') as {
  CompressStream: new (parameters?: { compressionLevel?: number }) => Transform;
};

export interface ZstdCodecOptions {
  /** `child` runs the `zstd` tool, `inprocess` uses zstd-napi, `auto` (default) the tool when installed. */
  mode?: 'auto' | 'child' | 'inprocess';
  /** The zstd executable (default: `zstd` on PATH). */
  command?: string;
  /**
   * Decoded size from which a multi-frame blob is decoded on all cores when the `zstd` tool is
   * there (default 256 MiB: below it, starting the worker threads costs more than the frames
   * save; docs/performance.md): a cached blob's seek table gives it, else the first frame's
   * content size × the blob's size over the frame's. Without the tool, frames always go in
   * parallel.
   */
  parallelMinBytes?: number;
  /**
   * Decode a multi-frame blob's frames on all cores while it downloads (./arriving.ts). Off by
   * default: on 2 shared cores it measured slower than one `zstd -d`, with more memory
   * (docs/performance.md); a cached blob's frames still go in parallel.
   */
  arrivingFrames?: boolean;
}

/** Zstandard frame magic, and the 16 skippable-frame magics (0x184D2A50..5F, little endian). */
const MAGIC = [
  Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd),
  ...Array.from({ length: 16 }, (_, i) => Uint8Array.of(0x50 + i, 0x2a, 0x4d, 0x18)),
];

/** What zstd-napi's (and the driver's) errors mean. */
function classifyInProcess(error: unknown): DecodeFailure {
  const message = (error as Error)?.message ?? '';
  // The first frame's magic was checked before decoding: an unknown one follows a frame.
  if (/unknown frame descriptor/i.test(message)) return 'trailing';
  return /ended|truncated/i.test(message) ? 'truncated' : 'corrupt';
}

/** zstd-napi (./inprocess.ts) in a worker thread, so hashing and networking never wait for it. */
function zstdWorker() {
  return workerDecoder({ module: new URL('./inprocess.js', import.meta.url).href, name: 'zstdDecoder' });
}

/** The zstd record: detection, pack's layer media type and title extension, decoders, encoder. */
export const ZSTD_CODEC: CodecInfo = {
  name: 'zstd',
  magic: MAGIC,
  extensions: ['zst', 'zstd'],
  mediaTypes: ['application/zstd'],
  // In a worker thread: a zstd tar layer (unpack-tar, rootfs layers) never decodes on the main thread.
  decodeStream: () => decoderStream('zstd', () => ({ steps: [zstdWorker()], classify: classifyInProcess })),
  encoder: {
    command: 'zstd',
    args: ['-T0', '-14', '-q', '-c', '--no-progress'],
    stream: (level = 14) => new CompressStream({ compressionLevel: level }),
  },
};

/**
 * Decodes zstd (any number of frames) with `zstd -d` writing straight into the output, or
 * zstd-napi. Bytes after the last frame that start no frame, zeros included (zstd refuses them
 * too), are DECOMPRESS_TRAILING_DATA in either mode.
 */
export default class ZstdCodecPlugin implements Plugin {
  readonly name = PLUGIN_NAME;
  private readonly options: ZstdCodecOptions;

  constructor(options: ZstdCodecOptions = {}) {
    this.options = options;
  }

  apply(orchestrator: Orchestrator): void {
    orchestrator.codecs.register(ZSTD_CODEC);
    orchestrator.hooks.decompress.for('zstd').tapPromise(PLUGIN_NAME, (request) => this.decompress(request));
  }

  private async decompress(request: DecompressRequest) {
    const command = decoderCommand(this.options, 'zstd', 'zstd');
    const minBytes = command ? (this.options.parallelMinBytes ?? PARALLEL_MIN_BYTES) : undefined;
    // A complete blob file with a seek table: its frames on all cores (./parallel.ts).
    const table = await parallelPlan(request);
    if (table && (minBytes === undefined || table.total >= minBytes)) return decodeFrames(request, table);
    if (!table && this.options.arrivingFrames && !request.output.device) {
      // Arriving: several frames are decoded on all cores as they come (./arriving.ts), else
      // what was read to decide is replayed into one decoder.
      const probed = await probe(request.input);
      if (useFrames(probed, request, minBytes)) return decodeArriving(request, probed);
      request = { ...request, input: replay(probed) };
    }
    return this.decodeStream(request, command);
  }

  private decodeStream(request: DecompressRequest, command: string | undefined) {
    if (command) {
      // zstd makes holes itself when told to, even on a regular-file stdout.
      const sparse = request.output.sparse ? '--sparse' : '--no-sparse';
      return decodeWithChild(request, {
        command,
        args: ['-d', '-c', '-q', '--no-progress', sparse],
        direct: true,
        // The first frame's magic was checked before decoding: an unknown one follows a frame.
        classify: (stderr) =>
          /unknown header|unsupported format/i.test(stderr)
            ? 'trailing'
            : /truncat|premature|unexpected end/i.test(stderr)
              ? 'truncated'
              : 'corrupt',
      });
    }
    // zstd-napi in a worker thread writing straight into the output file (./stream.ts); a block
    // device is written through its stream (which refuses to pass the device's end).
    if (!request.output.device) return decodeToOutput(request, classifyInProcess);
    return decodeInProcess(request, zstdWorker(), { classify: classifyInProcess });
  }
}
