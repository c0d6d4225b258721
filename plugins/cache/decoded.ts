import { execFile } from 'node:child_process';
import { constants, promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { findExecutable } from 'ocipull';
import type { DiskCache } from './cache.js';
import { DIR_MODE, errnoOf, privateFile } from './paths.js';
import { updateRecord } from './records.js';

const BLOCK = 4096;
const CHUNK = 1 << 20;
const ZERO = Buffer.alloc(BLOCK);
const run = promisify(execFile);

function allZero(buffer: Buffer, start: number, end: number): boolean {
  return buffer.subarray(start, end).equals(ZERO.subarray(0, end - start));
}

/** Copy `from` over `to`, skipping aligned 4 KiB zero blocks so they stay holes. */
export async function sparseCopy(from: string, to: string): Promise<void> {
  const input = await fsp.open(from, 'r');
  const output = await fsp.open(to, constants.O_WRONLY | constants.O_CREAT);
  try {
    await output.truncate(0);
    const { size } = await input.stat();
    const buffer = Buffer.allocUnsafe(CHUNK);
    for (let position = 0; position < size; ) {
      const { bytesRead } = await input.read(buffer, 0, CHUNK, position);
      if (bytesRead === 0) break;
      let run = -1;
      for (let at = 0; at <= bytesRead; at += BLOCK) {
        const end = Math.min(at + BLOCK, bytesRead);
        const data = at < bytesRead && !allZero(buffer, at, end);
        if (data && run < 0) run = at;
        if (!data && run >= 0) {
          await output.write(buffer, run, at - run, position + run);
          run = -1;
        }
      }
      position += bytesRead;
    }
    await output.truncate(size);
    await output.sync();
  } finally {
    await input.close();
    await output.close();
  }
}

/**
 * A reflink clone where the filesystem shares extents (btrfs, xfs, bcachefs, APFS), else a sparse
 * copy: GNU cp finds the data with SEEK_DATA/SEEK_HOLE (an 8 GiB raw disk holding 512 MiB copies
 * in a quarter second, where reading every hole takes twenty), else our own zero-skipping copy.
 * The destination is written in place (same inode), so an open descriptor on it stays valid.
 */
export async function cloneOrCopy(from: string, to: string): Promise<'clone' | 'copy'> {
  try {
    await fsp.copyFile(from, to, constants.COPYFILE_FICLONE_FORCE);
    return 'clone';
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') throw error;
  }
  const cp = process.platform === 'linux' ? findExecutable('cp') : undefined;
  if (cp) {
    try {
      await run(cp, ['--sparse=always', '--reflink=auto', '--', from, to]);
      return 'copy';
    } catch {
      // not GNU cp, or it failed: fall back below
    }
  }
  await sparseCopy(from, to);
  return 'copy';
}

/** Fill `path` with the decoded disk of `digest` if one is kept. */
export async function restoreDecoded(cache: DiskCache, digest: string, path: string): Promise<boolean> {
  const kept = cache.paths.decoded(digest);
  try {
    await fsp.access(kept);
  } catch {
    return false;
  }
  const release = await cache.lock(digest);
  try {
    const how = await cloneOrCopy(kept, path);
    cache.log.info(
      `cache: output ${how === 'clone' ? 'cloned' : 'copied'} from the decompressed copy of ${digest}`,
    );
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  } finally {
    await release();
  }
}

/** Keep the decoded disk written at `path` (a clone, or a sparse copy) for later pulls. */
export async function keepDecoded(cache: DiskCache, digest: string, path: string): Promise<void> {
  const kept = cache.paths.decoded(digest);
  const release = await cache.lock(digest);
  try {
    await fsp.mkdir(dirname(kept), { recursive: true, mode: DIR_MODE });
    const temp = `${kept}.tmp`;
    await cloneOrCopy(path, temp);
    await privateFile(temp);
    await fsp.rename(temp, kept);
    const { blocks } = await fsp.stat(kept);
    await updateRecord(cache.paths, digest, (record) => {
      record.decodedBytes = blocks * 512;
    });
  } finally {
    await release();
  }
}
