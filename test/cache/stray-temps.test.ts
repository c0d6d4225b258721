/**
 * A run killed between writing a record's temp file and renaming it leaves `RECORD.RANDOM.tmp`
 * beside the record; the next run that commits or drops that digest's partial removes them.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger, createOrchestrator } from 'ocipull';
import { repoRoot, tempDir } from '../support/paths.js';

const SOURCE = `oci-dir:${join(repoRoot, 'examples', 'machine-os')}:latest`;

describe('stray record temp files', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-stray-temps-'));
  });
  after(() => cleanup());

  test('a pull that commits the blob removes the temps a killed run left for it, and no others', async () => {
    const cacheDir = join(dir, 'cache');
    const pull = async (output: string) =>
      (await createOrchestrator({ preset: 'qemu', cacheDir, cwd: dir, log: createLogger('silent') })).pull({
        source: SOURCE,
        output,
      });
    // Learn the blob's digest, then empty the cache so the next pull downloads and commits again.
    const first = await pull(join(dir, 'first.qcow2'));
    const hex = first.blobDigest.split(':')[1]!;
    await fsp.rm(cacheDir, { recursive: true });
    const partials = join(cacheDir, 'ocipull', 'partials', 'sha256');
    const records = join(cacheDir, 'ocipull', 'records', 'sha256');
    await fsp.mkdir(partials, { recursive: true });
    await fsp.mkdir(records, { recursive: true });
    const strays = [join(partials, `${hex}.json.e6f9f5fb.tmp`), join(records, `${hex}.json.0123abcd.tmp`)];
    const other = join(partials, `${'0'.repeat(64)}.json.e6f9f5fb.tmp`);
    for (const path of [...strays, other]) await fsp.writeFile(path, '{"offset":');
    const second = await pull(join(dir, 'second.qcow2'));
    assert.equal(second.cacheHit, false);
    for (const path of strays) await assert.rejects(fsp.stat(path), { code: 'ENOENT' }, path);
    // Another digest's temp is that digest's business (its lock is not held).
    await fsp.stat(other);
  });
});
