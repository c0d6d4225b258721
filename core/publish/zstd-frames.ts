/**
 * `pack --compress zstd` as independent frames plus the zstd seekable format's seek table: the
 * input is cut into FRAME_BYTES pieces, each compressed by its own `zstd -14` (as many at once
 * as there are cores), written in order, then a skippable frame (magic 0x184D2A5E) listing each
 * frame's compressed and decompressed size and ending in the seekable footer (magic 0x8F92EAB1).
 * The blob stays one ordinary .zst (`zstd -d` skips the table); ocipull's pull finds the table
 * and decodes the frames on all cores.
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { availableParallelism } from 'node:os';
import { PassThrough, type Readable } from 'node:stream';
import { OcipullError } from '../errors/errors.js';

/** Decompressed bytes per frame. */
export const FRAME_BYTES = 8 << 20;
const SKIPPABLE_SEEK_MAGIC = 0x184d2a5e;
const SEEKABLE_MAGIC = 0x8f92eab1;

/** The seek table as a skippable frame: entries without checksums (each frame has its own). */
export function seekTable(frames: Array<{ compressed: number; decompressed: number }>): Buffer {
  const table = Buffer.alloc(8 + frames.length * 8 + 9);
  table.writeUInt32LE(SKIPPABLE_SEEK_MAGIC, 0);
  table.writeUInt32LE(table.length - 8, 4);
  frames.forEach((frame, i) => {
    table.writeUInt32LE(frame.compressed, 8 + i * 8);
    table.writeUInt32LE(frame.decompressed, 12 + i * 8);
  });
  const footer = 8 + frames.length * 8;
  table.writeUInt32LE(frames.length, footer);
  table.writeUInt8(0, footer + 4);
  table.writeUInt32LE(SEEKABLE_MAGIC, footer + 5);
  return table;
}

function compressFrame(tool: string, bytes: Buffer, level: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      tool,
      [`-${level}`, '-q', '-c', '--no-progress', '--check', `--stream-size=${bytes.length}`],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
        signal,
      },
    );
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else
        reject(
          new OcipullError('PACK_INPUT_INVALID', `zstd failed on a frame (exit ${code}): ${stderr.trim()}`),
        );
    });
    child.stdin.on('error', () => {});
    child.stdin.end(bytes);
  });
}

/** The seekable .zst of `input` as a stream, with `done` settling when every frame is written. */
export function seekableZstd(
  input: string,
  tool: string,
  signal: AbortSignal,
  level = 14,
): { out: Readable; done: Promise<void> } {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const done = (async () => {
    const handle = await fsp.open(input, 'r');
    try {
      const { size } = await handle.stat();
      const count = Math.max(1, Math.ceil(size / FRAME_BYTES));
      const ahead = Math.max(1, availableParallelism());
      const frames: Array<{ compressed: number; decompressed: number }> = [];
      const pending: Array<Promise<Buffer>> = [];
      let next = 0;
      const start = async (i: number) => {
        const length = Math.min(FRAME_BYTES, size - i * FRAME_BYTES);
        const bytes = Buffer.allocUnsafe(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await handle.read(bytes, got, length - got, i * FRAME_BYTES + got);
          if (bytesRead === 0)
            throw new OcipullError('PACK_INPUT_INVALID', `${input} shrank while it was read`);
          got += bytesRead;
        }
        return compressFrame(tool, bytes, level, signal);
      };
      for (let i = 0; i < count; i++) {
        while (next < count && pending.length < ahead) {
          const p = start(next++);
          p.catch(() => {});
          pending.push(p);
        }
        const frame = await pending.shift()!;
        frames.push({
          compressed: frame.length,
          decompressed: Math.min(FRAME_BYTES, size - i * FRAME_BYTES),
        });
        if (!out.write(frame)) await new Promise((resolve) => out.once('drain', resolve));
      }
      out.end(seekTable(frames));
    } finally {
      await handle.close();
    }
  })();
  done.catch((error: unknown) => out.destroy(error as Error));
  return { out, done };
}
