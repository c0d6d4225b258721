/**
 * The file-system steps of a layout write that differ between POSIX and Windows: temp names and
 * lock files are plain names valid on both; replacing a file by rename is retried on Windows while
 * another process holds it open (EPERM/EACCES/EBUSY there); an exclusive create by hard link falls
 * back to an exclusive copy where the file system has no hard links (FAT, some network shares).
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import nodePath, { type PlatformPath } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A fresh temp name beside `path` (`.tmp-<12 hex>`: valid on every platform). */
export function tempName(path: string, p: PlatformPath = nodePath): string {
  return p.join(p.dirname(path), `.tmp-${randomBytes(6).toString('hex')}`);
}

export interface RenameOps {
  rename(from: string, to: string): Promise<void>;
  platform: NodeJS.Platform;
}

const BUSY_ON_WINDOWS = new Set(['EPERM', 'EACCES', 'EBUSY']);

/** Rename `from` over `to`, retrying for a while on Windows while `to` is held open by a reader. */
export async function renameReplacing(
  from: string,
  to: string,
  ops: RenameOps = { rename: fsp.rename, platform: process.platform },
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ops.rename(from, to);
      return;
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      if (ops.platform !== 'win32' || !BUSY_ON_WINDOWS.has(code) || attempt >= 10) throw error;
      await sleep(10 * attempt);
    }
  }
}

export interface LinkOps {
  link(from: string, to: string): Promise<void>;
  copyFile(from: string, to: string, mode: number): Promise<void>;
}

const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EINVAL']);

/** Create `to` from `from` only if `to` does not exist: false when it does. */
export async function createExclusive(
  from: string,
  to: string,
  ops: LinkOps = { link: fsp.link, copyFile: fsp.copyFile },
): Promise<boolean> {
  try {
    await ops.link(from, to);
    return true;
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_HARD_LINKS.has(code)) throw error;
  }
  try {
    await ops.copyFile(from, to, constants.COPYFILE_EXCL);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') return false;
    throw error;
  }
}
