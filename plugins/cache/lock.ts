import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Logger, OcipullError } from 'ocipull';
import lockfile from 'proper-lockfile';
import { errnoOf } from './paths.js';

export type Release = () => Promise<void>;

/**
 * A lock is a directory; anything else at its path (a file left by another tool or user, an old
 * version's lock file) would block every pull of that digest: it is removed, or named.
 */
async function clearDebris(path: string): Promise<void> {
  const stat = await fsp.lstat(path).catch(() => undefined);
  if (!stat || stat.isDirectory()) return;
  try {
    await fsp.rm(path, { force: true });
  } catch (error) {
    throw new OcipullError(
      'CACHE_FAILED',
      `cache lock ${path} is not a lock directory (a ${stat.isSymbolicLink() ? 'symlink' : 'plain file'} owned by uid ${stat.uid}) and cannot be removed: ${(error as Error).message}`,
      { hint: 'remove it (its owner or root can), or choose another --cache-dir', cause: error },
    );
  }
}

const POLL_MS = 150;

/**
 * Take the cross-process lock at `path` (a proper-lockfile directory, its mtime refreshed while held).
 * Waits as long as another live process holds it; a lock not refreshed for `staleMs` (its holder
 * crashed or was killed) is taken over. `waiting` is called once if we have to wait.
 */
export async function acquireLock(
  path: string,
  options: { staleMs: number; log: Logger; what: string; signal?: AbortSignal },
): Promise<Release> {
  await fsp.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await clearDebris(path);
  let told = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const release = await lockfile.lock(path, {
        realpath: false,
        lockfilePath: path,
        stale: options.staleMs,
        retries: 0,
        onCompromised: (error) =>
          options.log.warn(
            `cache lock for ${options.what} was lost: ${error.message}; another process may take it over`,
          ),
      });
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await release().catch(() => {});
      };
    } catch (error) {
      if (errnoOf(error) !== 'ELOCKED') throw error;
      if (!told) {
        told = true;
        options.log.info(`waiting for another ocipull process working on ${options.what}`);
      }
      await sleep(POLL_MS, undefined, options.signal ? { signal: options.signal } : undefined);
    }
  }
}

/** Take the lock only if nobody holds it (eviction skips entries in use). */
export async function tryLock(path: string, staleMs: number): Promise<Release | undefined> {
  await fsp.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await clearDebris(path);
  try {
    const release = await lockfile.lock(path, {
      realpath: false,
      lockfilePath: path,
      stale: staleMs,
      retries: 0,
      onCompromised: () => {},
    });
    return async () => {
      await release().catch(() => {});
    };
  } catch (error) {
    if (errnoOf(error) === 'ELOCKED') return undefined;
    throw error;
  }
}
