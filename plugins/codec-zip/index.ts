import { PassThrough, Transform } from 'node:stream';
import { crc32, createInflateRaw } from 'node:zlib';
import {
  type CodecInfo,
  type DecompressRequest,
  decodeError,
  decodeInProcess,
  type Orchestrator,
  type Plugin,
  peek,
} from 'ocipull';
import { parseLocalHeader, ZipEntryReader } from './entry.js';

const PLUGIN_NAME = 'ocipull-plugin-codec-zip';

const MAGIC = [Uint8Array.of(0x50, 0x4b, 0x03, 0x04)];

/**
 * The zip record. No stream decoder (a zip is an archive read to its central directory, not a
 * stream format) and no encoder: `pack` publishes a zip only when the input already is one.
 */
export const ZIP_CODEC: CodecInfo = {
  name: 'zip',
  magic: MAGIC,
  extensions: ['zip'],
  mediaTypes: ['application/zip'],
  requireNameMatch: true,
};

/**
 * A zip archive holding exactly one file (the disk), read as it streams: stored or deflate, zip64
 * included. Chosen only when the name says `.zip` too (`PK` also starts jars, docx, ...).
 */
export default class ZipCodecPlugin implements Plugin {
  readonly name = PLUGIN_NAME;

  apply(orchestrator: Orchestrator): void {
    orchestrator.codecs.register(ZIP_CODEC);
    orchestrator.hooks.decompress.for('zip').tapPromise(PLUGIN_NAME, (request) => decodeZip(request));
  }
}

async function decodeZip(request: DecompressRequest) {
  // The local header (at most 30 + 2 × 64 KiB) says how the entry is compressed.
  const { head, stream } = await peek(request.input, 30 + (128 << 10));
  const header = parseLocalHeader(head);
  if (!header)
    throw decodeError('zip', 'truncated', `the archive ends inside its first header (${head.length} bytes)`);
  const { entry } = header;
  request.log.debug(`zip entry ${entry.name} (method ${entry.method})`);
  const reader = new ZipEntryReader();
  let crc = 0;
  let size = 0;
  const check = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, callback) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      // A deflate stream ends before the archive does: wait for the reader to see the directory.
      if (reader.writableFinished || reader.destroyed) verify(callback);
      else reader.once('finish', () => verify(callback)).once('close', () => verify(callback));
    },
  });
  let verified = false;
  const verify = (callback: (error?: Error | null) => void) => {
    if (verified) return;
    verified = true;
    const dir = reader.directory;
    if (!dir)
      return callback(decodeError('zip', 'truncated', 'the archive ended before its central directory'));
    if (dir.size !== size) {
      const detail = `${entry.name} decoded to ${size} bytes, its directory entry says ${dir.size}`;
      return callback(decodeError('zip', 'corrupt', detail));
    }
    if (dir.crc32 !== crc)
      return callback(decodeError('zip', 'corrupt', `${entry.name} fails its CRC-32 check`));
    callback();
  };
  const body =
    entry.method === 8
      ? createInflateRaw({ chunkSize: 256 << 10 })
      : new PassThrough({ highWaterMark: 1 << 20 });
  return decodeInProcess({ ...request, input: stream }, [reader, body, check], {
    classify: (error) => ((error as { code?: string })?.code === 'Z_BUF_ERROR' ? 'truncated' : 'corrupt'),
  });
}
