/** A built tree as an ext4 or erofs disk image, with the image's owners, modes and devices. */
import { stat, truncate, writeFile } from 'node:fs/promises';
import { type Logger, OcipullError } from 'ocipull';
import { readRecord, recordPathFor } from '../apply/record.js';
import { underFakeroot } from './fakeroot.js';
import { runTool, writeAtomically } from './tools.js';
import { walkTree } from './walk.js';
import { readTreeXattrs } from './xattrs.js';

const MiB = 1024 * 1024;
const BLOCK = 4096;

export interface DiskOptions {
  /** Bytes of the ext4 image; default: the content plus headroom. */
  size?: number;
  /** Volume label (ext4; erofs-utils 1.5 takes none). */
  label?: string;
  /** The rootless record (default: the tree's sibling, recordPathFor; absent when applied as root). */
  recordPath?: string;
  /** erofs compressor (`lz4`, `lz4hc`); default none. */
  compression?: string;
  signal?: AbortSignal;
  log?: Logger;
}

export interface DiskFacts {
  format: 'ext4' | 'erofs';
  bytes: number;
  entries: number;
  contentBytes: number;
}

/** What the tree takes in blocks of 4 KiB, and how many inodes it needs. */
export async function measureTree(
  tree: string,
): Promise<{ entries: number; contentBytes: number; blocks: number; longName?: string }> {
  let entries = 0;
  let contentBytes = 0;
  let blocks = 0;
  let longName: string | undefined;
  for await (const entry of walkTree(tree, new Map())) {
    entries++;
    if (longName === undefined && Buffer.byteLength(entry.path.slice(entry.path.lastIndexOf('/') + 1)) >= 255)
      longName = entry.path;
    contentBytes += entry.size;
    blocks += entry.linkTo ? 0 : Math.max(1, Math.ceil(entry.size / BLOCK));
  }
  return { entries, contentBytes, blocks, ...(longName ? { longName } : {}) };
}

/** The ext4 size for a tree: its blocks and inodes, a fifth more, and 16 MiB for the journal and metadata. */
export function ext4Size(measure: { entries: number; blocks: number }): number {
  const data = measure.blocks * BLOCK + measure.entries * 256;
  return Math.ceil((data * 1.2 + 16 * MiB) / MiB) * MiB;
}

async function withMetadata(tree: string, options: DiskOptions, command: string[]): Promise<void> {
  const record = await readRecord(options.recordPath ?? recordPathFor(tree));
  if (record.size === 0) {
    await runTool(
      command[0]!,
      command.slice(1).map((a) => (a === '{tree}' ? tree : a)),
      { signal: options.signal },
    );
  } else {
    const { dump } = await readTreeXattrs(tree, options.log, options.signal);
    await underFakeroot(tree, record, command, options.signal, dump);
  }
}

/** `mkfs.ext4 -d TREE` into `out` (written through a temp name). */
export async function treeToExt4(tree: string, out: string, options: DiskOptions = {}): Promise<DiskFacts> {
  const measure = await measureTree(tree);
  const bytes = options.size ?? ext4Size(measure);
  if (bytes < measure.contentBytes) {
    throw new OcipullError(
      'ROOTFS_OUTPUT_FAILED',
      `an ext4 of ${bytes} bytes cannot hold the tree's ${measure.contentBytes} bytes of files`,
      { hint: `give a size of at least ${ext4Size(measure)} bytes, or none to size it to the content` },
    );
  }
  await writeAtomically(out, async (temp) => {
    await writeFile(temp, '', { flag: 'wx' });
    await truncate(temp, bytes);
    await withMetadata(tree, options, [
      'mkfs.ext4',
      '-q',
      '-F',
      '-N',
      String(measure.entries + 1024),
      ...(options.label ? ['-L', options.label] : []),
      '-d',
      '{tree}',
      temp,
    ]);
  });
  return { format: 'ext4', bytes, entries: measure.entries, contentBytes: measure.contentBytes };
}

/**
 * `mkfs.erofs OUT TREE` (erofs-utils 1.5: from a directory only, hence fakeroot when rootless).
 * With `size`, the image is padded with zeros to that many bytes (a disk of a fixed size; the
 * file system ends where mkfs ended it), ROOTFS_OUTPUT_FAILED when it does not fit.
 */
export async function treeToErofs(tree: string, out: string, options: DiskOptions = {}): Promise<DiskFacts> {
  const measure = await measureTree(tree);
  if (measure.longName) {
    // erofs-utils 1.5 fails on a name of 255 bytes (the longest Linux allows) with "Could not
    // format the device: No such file or directory": say what it is instead.
    throw new OcipullError(
      'ROOTFS_OUTPUT_FAILED',
      `mkfs.erofs (erofs-utils 1.5) cannot store the name of 255 bytes of ${JSON.stringify(measure.longName.slice(0, 300))}`,
      { hint: 'write this image as ext4 or tar (names up to 255 bytes)' },
    );
  }
  await writeAtomically(out, async (temp) => {
    await withMetadata(tree, options, [
      'mkfs.erofs',
      '--quiet',
      ...(options.compression ? [`-z${options.compression}`] : []),
      temp,
      '{tree}',
    ]);
    if (options.size !== undefined) {
      const made = (await stat(temp)).size;
      if (made > options.size) {
        throw new OcipullError(
          'ROOTFS_OUTPUT_FAILED',
          `the erofs image of the tree is ${made} bytes, over the size asked for (${options.size} bytes)`,
          { hint: `give a size of at least ${made} bytes, or none to size it to the content` },
        );
      }
      await truncate(temp, options.size);
    }
  });
  return {
    format: 'erofs',
    bytes: (await stat(out)).size,
    entries: measure.entries,
    contentBytes: measure.contentBytes,
  };
}
