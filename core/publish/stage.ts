/**
 * Staging a disk as a layer blob in one pass over its bytes: the input is compressed by its
 * codec record's encoder (the real tool when installed: `zstd -T0 -14`, `xz -T0`, `gzip -n`;
 * else the record's in-process stream) and the output is hashed while it is written to a temp file, in the destination's staging directory
 * when it has one (so the blob is renamed into place, never copied again). An input taken as is
 * is hashed once; a local destination gets it copied while hashing.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { OcipullError } from '../errors/errors.js';
import { createDigester } from '../oci/digest.js';
import { findExecutable } from '../pipeline/decoder.js';
import type { BlobBody, CodecInfo, Descriptor } from '../types.js';
import { seekableZstd } from './zstd-frames.js';

export interface StagedBlob {
  descriptor: Descriptor;
  body: BlobBody;
  /** Remove the temp file, if it was not taken over by the destination. */
  cleanup(): Promise<void>;
}

export interface StageOptions {
  /** The codec record to compress with (its `encoder`); undefined takes the bytes as they are. */
  codec?: CodecInfo;
  /** The destination's staging directory; undefined: a temp directory, only when compressing. */
  stagingDir?: string;
  signal: AbortSignal;
}

function fileBody(path: string, disposable: boolean): BlobBody {
  return {
    path,
    disposable,
    open: async (offset = 0) => createReadStream(path, { start: offset, highWaterMark: 1 << 20 }),
  };
}

/** Bytes of the compressed stream: the encoder tool's stdout, or the record's in-process encoder. */
function compressedStream(
  input: string,
  codec: CodecInfo,
  signal: AbortSignal,
): { out: Readable; done: Promise<void> } {
  const encoder = codec.encoder;
  const tool = encoder?.command ? findExecutable(encoder.command) : undefined;
  if (!tool) {
    if (encoder?.stream) {
      const compress = encoder.stream();
      const source = createReadStream(input, { highWaterMark: 1 << 20, signal });
      source.on('error', (e) => compress.destroy(e));
      source.pipe(compress);
      return { out: compress, done: Promise.resolve() };
    }
    const program = encoder?.command ?? codec.name;
    throw new OcipullError(
      'UNSUPPORTED',
      `--compress ${codec.name} needs the ${program} program, which is not installed`,
      {
        hint: `install it (Debian: apt install ${encoder?.package ?? program}) or choose another --compress`,
      },
    );
  }
  // zstd: independent frames and a seek table, so a pull decodes them on all cores.
  if (codec.name === 'zstd') return seekableZstd(input, tool, signal);
  const child = spawn(tool, [...(encoder?.args ?? []), input], {
    stdio: ['ignore', 'pipe', 'pipe'],
    signal,
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, sig) => {
      if (code === 0) resolve();
      else
        reject(
          new OcipullError(
            'PACK_INPUT_INVALID',
            `${codec.name} failed on ${input} (${sig ?? `exit ${code}`}): ${stderr.trim()}`,
          ),
        );
    });
  });
  done.catch(() => {});
  // Consume at once: node resumes (and drops) the stdout of an exited child nobody reads yet.
  const out = child.stdout.pipe(new PassThrough({ highWaterMark: 1 << 20 }));
  return { out, done };
}

/** Write `chunks` to a new temp file in `dir`, hashing as they go. */
async function writeHashed(
  chunks: AsyncIterable<Uint8Array>,
  dir: string,
): Promise<{ path: string; digest: string; size: number }> {
  await fsp.mkdir(dir, { recursive: true });
  const path = join(dir, `.tmp-pack-${randomBytes(6).toString('hex')}`);
  const hash = createDigester('sha256');
  let size = 0;
  const handle = await fsp.open(path, 'wx', 0o644);
  try {
    for await (const chunk of chunks) {
      hash.update(chunk);
      size += chunk.length;
      await handle.write(chunk);
    }
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await fsp.rm(path, { force: true });
    throw error;
  }
  await handle.close();
  return { path, digest: `sha256:${hash.digest('hex')}`, size };
}

/** Stage `input` (a readable file) as a blob of media type `mediaType`. */
export async function stageBlob(
  input: string,
  mediaType: string,
  options: StageOptions,
): Promise<StagedBlob> {
  const { codec, stagingDir, signal } = options;
  if (!codec && !stagingDir) {
    const hash = createDigester('sha256');
    let size = 0;
    for await (const chunk of createReadStream(input, { highWaterMark: 1 << 20, signal })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return {
      descriptor: { mediaType, digest: `sha256:${hash.digest('hex')}`, size },
      body: fileBody(input, false),
      cleanup: async () => {},
    };
  }
  let dir = stagingDir;
  let tempRoot: string | undefined;
  if (!dir) {
    tempRoot = await fsp.mkdtemp(join(tmpdir(), 'ocipull-pack-'));
    dir = tempRoot;
  }
  const remove = async (path?: string) => {
    if (path) await fsp.rm(path, { force: true });
    if (tempRoot) await fsp.rm(tempRoot, { recursive: true, force: true });
  };
  let written: { path: string; digest: string; size: number } | undefined;
  try {
    if (!codec) {
      written = await writeHashed(createReadStream(input, { highWaterMark: 1 << 20, signal }), dir);
    } else {
      const { out, done } = compressedStream(input, codec, signal);
      written = await writeHashed(out, dir);
      await done;
    }
    return {
      descriptor: { mediaType, digest: written.digest, size: written.size },
      body: fileBody(written.path, true),
      cleanup: () => remove(written?.path),
    };
  } catch (error) {
    await remove(written?.path);
    throw error;
  }
}
