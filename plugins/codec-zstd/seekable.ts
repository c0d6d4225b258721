/**
 * Reading the zstd seekable format's seek table at the end of a blob file. A table that is not
 * well formed (wrong magics, reserved bits set, sizes that do not add up to the file) is ignored:
 * the blob is then decoded as one stream, as any .zst is, which checks every frame anyway, so
 * nothing is lost but the parallelism. A well-formed table whose entries contradict the frames
 * is found out while decoding them (DECOMPRESS_CORRUPT).
 */
import { promises as fsp } from 'node:fs';

const SKIPPABLE_SEEK_MAGIC = 0x184d2a5e;
const SEEKABLE_MAGIC = 0x8f92eab1;
const FOOTER = 9;
/** The format's limits: frames per table, and decompressed bytes per frame. */
const MAX_FRAMES = 0x8000000;
const MAX_FRAME_BYTES = 0x40000000;

export interface SeekFrame {
  /** Offset of the frame in the blob. */
  offset: number;
  compressed: number;
  /** Offset of its output in the disk. */
  outOffset: number;
  decompressed: number;
}

export interface SeekTable {
  frames: SeekFrame[];
  /** Decompressed bytes of every frame. */
  total: number;
}

/** The blob's seek table, or undefined when it has none (or none that can be trusted). */
export async function readSeekTable(path: string): Promise<SeekTable | undefined> {
  const handle = await fsp.open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size < 8 + FOOTER) return undefined;
    const footer = Buffer.alloc(FOOTER);
    await handle.read(footer, 0, FOOTER, size - FOOTER);
    if (footer.readUInt32LE(5) !== SEEKABLE_MAGIC) return undefined;
    const count = footer.readUInt32LE(0);
    const descriptor = footer[4]!;
    if ((descriptor & 0x7c) !== 0 || count === 0 || count > MAX_FRAMES) return undefined;
    const entry = descriptor & 0x80 ? 12 : 8;
    const tableSize = 8 + count * entry + FOOTER;
    if (tableSize > size) return undefined;
    const table = Buffer.alloc(tableSize);
    await handle.read(table, 0, tableSize, size - tableSize);
    if (table.readUInt32LE(0) !== SKIPPABLE_SEEK_MAGIC || table.readUInt32LE(4) !== tableSize - 8)
      return undefined;
    const frames: SeekFrame[] = [];
    let offset = 0;
    let outOffset = 0;
    for (let i = 0; i < count; i++) {
      const compressed = table.readUInt32LE(8 + i * entry);
      const decompressed = table.readUInt32LE(12 + i * entry);
      if (compressed === 0 || decompressed > MAX_FRAME_BYTES) return undefined;
      frames.push({ offset, compressed, outOffset, decompressed });
      offset += compressed;
      outOffset += decompressed;
    }
    // The frames and the table are the whole blob: nothing before, between or after them.
    if (offset !== size - tableSize) return undefined;
    return { frames, total: outOffset };
  } finally {
    await handle.close();
  }
}
