/**
 * The cache holds nothing unverified: every blob visible in it (blobs/<alg>/<hex>) hashes to its
 * name, every record names a blob that is there, and no temp file sits among the blobs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

async function hashFile(path: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** A directory's names (a cache that never stored anything has none of these directories). */
const list = (dir: string) => fsp.readdir(dir).catch(() => [] as string[]);

/** Check the cache at `dir`; returns the digests of the blobs it holds. */
export async function verifyCache(dir: string): Promise<string[]> {
  const digests: string[] = [];
  for (const algorithm of await list(join(dir, 'blobs'))) {
    for (const name of await list(join(dir, 'blobs', algorithm))) {
      assert.match(name, /^[a-f0-9]{64,128}$/, `only blobs in ${dir}/blobs/${algorithm} (found ${name})`);
      const actual = await hashFile(join(dir, 'blobs', algorithm, name), algorithm);
      assert.equal(actual, name, `cached blob ${algorithm}:${name} verifies`);
      digests.push(`${algorithm}:${name}`);
    }
  }
  for (const algorithm of await list(join(dir, 'ocipull', 'records'))) {
    for (const name of await list(join(dir, 'ocipull', 'records', algorithm))) {
      const digest = `${algorithm}:${name.replace(/\.json$/, '')}`;
      assert.ok(digests.includes(digest), `record ${name} has its blob`);
    }
  }
  return digests;
}
