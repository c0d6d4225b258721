import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describeNoSpace, layoutBlobPath, OcipullError, parseDigest, spaceErrno } from 'ocipull';

/**
 * Where things live in a cache directory. The directory is an OCI image layout (`oci-layout`,
 * `index.json`, `blobs/`) so that `oci-dir:` reads it; ocipull's own bookkeeping sits in `ocipull/`:
 *
 *   ocipull/records/<alg>/<hex>.json   one per complete blob: origin, title, size, last use
 *   ocipull/partials/<alg>/<hex>       bytes of an interrupted download
 *   ocipull/partials/<alg>/<hex>.json  its record: offset, URL, ETag / Last-Modified, complete ranges
 *   ocipull/locks/<alg>/<hex>.lock     the per-digest cross-process lock (proper-lockfile)
 *   ocipull/decoded/<alg>/<hex>        decompressed disks (when `decompressed` is on)
 */
export class CachePaths {
  constructor(readonly dir: string) {}

  private keyed(area: string, digest: string, suffix = ''): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.dir, 'ocipull', area, algorithm, `${hex}${suffix}`);
  }

  blob(digest: string): string {
    return layoutBlobPath(this.dir, digest);
  }

  record(digest: string): string {
    return this.keyed('records', digest, '.json');
  }

  partial(digest: string): string {
    return this.keyed('partials', digest);
  }

  partialRecord(digest: string): string {
    return this.keyed('partials', digest, '.json');
  }

  lock(digest: string): string {
    return this.keyed('locks', digest, '.lock');
  }

  decoded(digest: string): string {
    return this.keyed('decoded', digest);
  }

  area(name: 'records' | 'partials' | 'locks' | 'decoded'): string {
    return join(this.dir, 'ocipull', name);
  }
}

export function errnoOf(error: unknown): string | undefined {
  return (error as { code?: string })?.code;
}

export function cacheError(
  dir: string,
  action: string,
  error: unknown,
  facts: { written?: number; needed?: number } = {},
): OcipullError {
  if (error instanceof OcipullError && error.code !== 'OUTPUT_FAILED') return error;
  const space = spaceErrno(error);
  if (space) {
    return new OcipullError(
      'CACHE_FAILED',
      `cache ${dir}: cannot ${action}: ${describeNoSpace(space, dir, facts)}`,
      {
        hint: `free space in ${dir} (ocipull cache prune --all empties the cache), or choose another --cache-dir`,
        cause: error,
        data: { errno: space, ...facts },
      },
    );
  }
  return new OcipullError('CACHE_FAILED', `cache ${dir}: cannot ${action}: ${(error as Error).message}`, {
    hint: 'check the permissions and free space of the cache directory, or choose another with --cache-dir',
    cause: error,
  });
}

/** The cache is private to its owner: directories 0700, files 0600 (as containers' storage). */
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/** chmod 0600 (umask-proof), ignoring a file already gone. */
export async function privateFile(path: string): Promise<void> {
  await fsp.chmod(path, FILE_MODE).catch((error: unknown) => {
    if (errnoOf(error) !== 'ENOENT') throw error;
  });
}

/**
 * Write JSON through a temp file and a rename: readers see the old or the new record, never half.
 * With `sync` the file and the rename are on the disk when it resolves.
 */
export async function writeJsonAtomic(
  path: string,
  value: unknown,
  options: { sync?: boolean } = {},
): Promise<void> {
  await fsp.mkdir(dirname(path), { recursive: true, mode: DIR_MODE });
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const file = await fsp.open(temp, 'w', FILE_MODE);
    try {
      await file.writeFile(`${JSON.stringify(value, null, 1)}\n`);
      await file.chmod(FILE_MODE);
      if (options.sync) await file.sync();
    } finally {
      await file.close();
    }
    await fsp.rename(temp, path);
    if (options.sync) {
      const dir = await fsp.open(dirname(path), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    }
  } catch (error) {
    await fsp.rm(temp, { force: true });
    throw error;
  }
}

/**
 * Remove the temp files `writeJsonAtomic` left beside `path` when a run was killed between the
 * write and the rename (`PATH.RANDOM.tmp`). Called with the digest's lock held, so no writer of
 * this digest is between the two.
 */
export async function removeStrayTemps(path: string): Promise<void> {
  const prefix = `${basename(path)}.`;
  const names = await fsp.readdir(dirname(path)).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((name) => name.startsWith(prefix) && /^[0-9a-f]{8}\.tmp$/.test(name.slice(prefix.length)))
      .map((name) => fsp.rm(join(dirname(path), name), { force: true })),
  );
}

/** Parsed JSON, or undefined when the file is missing or unreadable (a record is only a hint). */
export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Digests named by `<area>/<alg>/<hex>[suffix]` files. */
export async function digestsIn(areaDir: string, suffix = ''): Promise<string[]> {
  const out: string[] = [];
  let algorithms: string[];
  try {
    algorithms = await fsp.readdir(areaDir);
  } catch {
    return out;
  }
  for (const algorithm of algorithms) {
    let names: string[];
    try {
      names = await fsp.readdir(join(areaDir, algorithm));
    } catch {
      continue;
    }
    for (const name of names) {
      if (!name.endsWith(suffix)) continue;
      const hex = name.slice(0, name.length - suffix.length);
      if (/^[a-f0-9]{32,}$/.test(hex)) out.push(`${algorithm}:${hex}`);
    }
  }
  return out;
}
