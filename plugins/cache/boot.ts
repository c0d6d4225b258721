import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Descriptor } from 'ocipull';

/**
 * The boot a cache entry was written in. An entry committed without an fsync is only known to be
 * on the disk while this boot lasts (the page cache is what readers see); in another boot it is
 * rehashed before use. `OCIPULL_BOOT_ID` stands in for the kernel's id (tests start "another
 * boot" with it). Undefined where the kernel says nothing (not Linux): entries are then fsynced.
 */
export function currentBoot(): string | undefined {
  const injected = process.env.OCIPULL_BOOT_ID;
  if (injected) return injected;
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Whether the file at `path` holds exactly the descriptor's bytes (size and digest). */
export async function fileMatches(path: string, descriptor: Descriptor): Promise<boolean> {
  const [algorithm, hex] = descriptor.digest.split(':');
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return false;
  const hash = createHash(algorithm);
  let size = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch {
    return false;
  }
  return size === descriptor.size && hash.digest('hex') === hex;
}

/** fsync a file, then its directory (so a rename into it is on the disk too). */
export async function syncFileAndDir(path: string): Promise<void> {
  const file = await fsp.open(path, 'r');
  try {
    await file.sync();
  } finally {
    await file.close();
  }
  const dir = await fsp.open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
