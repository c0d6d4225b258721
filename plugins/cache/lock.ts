import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'ocipull';
import lockfile from 'proper-lockfile';
import { errnoOf } from './paths.js';

export type Release = () => Promise<void>;

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
  await fsp.mkdir(dirname(path), { recursive: true });
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
  await fsp.mkdir(dirname(path), { recursive: true });
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
