/**
 * Eviction policies (none, after-use, on-miss, lru), `cache ls` / `cache prune` through the CLI,
 * and the decompressed-base cache.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Settings } from 'ocipull';
import { pullOrchestrator } from '../oci-dir/helpers.js';
import { sha256File } from '../registry/helpers.js';
import { runCli } from '../support/cli.js';
import { compress, makeDisk } from '../support/disks.js';
import { buildMachineOsLayout, type MachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';
import { blobPath, CACHE_PLUGINS, partialPath, sizeOf } from './helpers.js';

describe('cache policies and management', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  const layouts: MachineOsLayout[] = [];
  const originals: string[] = [];
  let n = 0;

  before(async () => {
    tmp = await tempDir('ocipull-cache-policies-');
    for (const seed of [21, 22, 23]) {
      const disk = await makeDisk(tmp.dir, { format: 'qcow2', sizeMiB: 32, dataMiB: 2, seed });
      originals.push(disk);
      layouts.push(
        await buildMachineOsLayout(join(tmp.dir, `layout-${seed}`), {
          tag: 'latest',
          nested: true,
          disks: [{ diskType: 'qemu', arch: 'x86_64', path: await compress(disk, 'zstd') }],
        }),
      );
    }
  });
  after(() => tmp.cleanup());

  const source = (i: number) => `oci-dir:${layouts[i]!.layoutDir}:latest`;
  const digest = (i: number) => layouts[i]!.disks[0]!.blobDigest;
  const newCache = () => join(tmp.dir, `cache-${++n}`);

  async function pull(cacheDir: string, i: number, settings: Partial<Settings> = {}) {
    const o = await pullOrchestrator(
      { cacheDir, arch: 'x86_64', diskType: 'qemu', format: 'qcow2', defaultSource: source(0), ...settings },
      CACHE_PLUGINS,
    );
    const output = join(tmp.dir, `out-${++n}.qcow2`);
    const result = await o.pull({ source: source(i), output });
    assert.equal(await sha256File(output), await sha256File(originals[i]!));
    return {
      result,
      output,
      cached: async () => (await (await o.getCache())!.list!()).map((e) => e.digest).sort(),
    };
  }
  const sorted = (...i: number[]) => i.map(digest).sort();

  it('none keeps everything', async () => {
    const cache = newCache();
    await pull(cache, 0, { cache: { policy: 'none' } });
    const { cached } = await pull(cache, 1, { cache: { policy: 'none' } });
    assert.deepEqual(await cached(), sorted(0, 1));
  });

  it('after-use deletes the entry once the output is written', async () => {
    const cache = newCache();
    const { cached } = await pull(cache, 1, { cache: { policy: 'after-use' } });
    assert.deepEqual(await cached(), []);
    assert.equal(await sizeOf(blobPath(cache, digest(1))), -1);
    const index = JSON.parse(await fsp.readFile(join(cache, 'index.json'), 'utf8'));
    assert.deepEqual(index.manifests, [], 'its documents went too');
  });

  it('on-miss drops other entries after the default image was downloaded, not otherwise', async () => {
    const cache = newCache();
    const settings = { cache: { policy: 'on-miss' } };
    await pull(cache, 1, settings);
    let { cached } = await pull(cache, 2, settings);
    assert.deepEqual(await cached(), sorted(1, 2), 'pulls of other images drop nothing');
    ({ cached } = await pull(cache, 0, settings));
    assert.deepEqual(await cached(), sorted(0), 'a fresh download of the default image drops the rest');
    ({ cached } = await pull(cache, 1, settings));
    assert.deepEqual(await cached(), sorted(0, 1));
    ({ cached } = await pull(cache, 0, settings));
    assert.deepEqual(await cached(), sorted(0, 1), 'a hit of the default image drops nothing');
  });

  it('lru with maxSize evicts the least recently used entries', async () => {
    const cache = newCache();
    const sizes = layouts.map((l) => l.disks[0]!.blobSize);
    const settings = { cache: { policy: 'lru', maxSize: sizes[0]! + Math.max(sizes[1]!, sizes[2]!) + 10 } };
    await pull(cache, 0, settings);
    await pull(cache, 1, settings);
    await pull(cache, 0, settings); // 0 is now more recent than 1
    const { cached } = await pull(cache, 2, settings);
    assert.deepEqual(await cached(), sorted(0, 2));
  });

  it('lru needs maxSize; unknown policies and sizes are refused', async () => {
    for (const cache of [{ policy: 'lru' }, { policy: 'sometimes' }, { policy: 'lru', maxSize: 'lots' }]) {
      await assert.rejects(pull(newCache(), 0, { cache }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'CONFIG_INVALID', e.message);
        return true;
      });
    }
  });

  const cli = async (cache: string, ...args: string[]) => {
    const r = await runCli(['cache', ...args, '--cache-dir', cache], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  it('cache ls lists digest, title, source, size and last use (table and --json)', async () => {
    const cache = newCache();
    await pull(cache, 0);
    await pull(cache, 1);
    const json = JSON.parse(await cli(cache, 'ls', '--json'));
    assert.equal(json.dir, cache);
    assert.deepEqual(json.entries.map((e: { digest: string }) => e.digest).sort(), sorted(0, 1));
    const entry = json.entries.find((e: { digest: string }) => e.digest === digest(1));
    assert.equal(entry.source, source(1));
    assert.equal(entry.size, layouts[1]!.disks[0]!.blobSize);
    assert.equal(entry.title, layouts[1]!.disks[0]!.title);
    assert.equal(entry.lastUsed, json.entries[0].lastUsed, 'most recent first');
    const table = await cli(cache, 'ls');
    assert.match(table, /^DIGEST\s+TITLE\s+SIZE\s+LAST USED\s+SOURCE$/m);
    assert.ok(table.includes(digest(0).slice(0, 19)));
    assert.ok(table.includes(source(0)));
    assert.match(await cli(newCache(), 'ls'), /is empty/);
  });

  it('cache prune --older-than removes entries and partials unused for that long', async () => {
    const cache = newCache();
    await pull(cache, 0);
    await pull(cache, 1);
    // Age entry 0 and plant an old and a fresh partial.
    const record = join(cache, 'ocipull', 'records', 'sha256', `${digest(0).slice(7)}.json`);
    const aged = JSON.parse(await fsp.readFile(record, 'utf8'));
    aged.lastUsed = new Date(Date.now() - 3 * 86400e3).toISOString();
    await fsp.writeFile(record, JSON.stringify(aged));
    const old = partialPath(cache, digest(2));
    await fsp.writeFile(old, 'x'.repeat(100));
    await fsp.writeFile(
      `${old}.json`,
      JSON.stringify({ digest: digest(2), size: 9, offset: 100, updated: new Date(0).toISOString() }),
    );
    const past = new Date(Date.now() - 3 * 86400e3);
    await fsp.utimes(old, past, past);
    const result = JSON.parse(await cli(cache, 'prune', '--older-than', '2d', '--json'));
    assert.deepEqual(
      result.entries.map((e: { digest: string }) => e.digest),
      [digest(0)],
    );
    assert.equal(result.partials, 1);
    assert.ok(result.bytes > layouts[0]!.disks[0]!.blobSize);
    assert.deepEqual(
      JSON.parse(await cli(cache, 'ls', '--json')).entries.map((e: { digest: string }) => e.digest),
      [digest(1)],
    );
    assert.equal(await sizeOf(old), -1);
    const index = JSON.parse(await fsp.readFile(join(cache, 'index.json'), 'utf8'));
    assert.deepEqual(
      index.manifests.map(
        (m: { annotations: Record<string, string> }) => m.annotations['io.ocipull.cache.reference'],
      ),
      [source(1)],
    );
  });

  it('cache prune --older-than longer than 7 days still removes partials older than 7 days', async () => {
    const cache = newCache();
    await pull(cache, 0);
    const old = partialPath(cache, digest(1));
    await fsp.writeFile(old, 'x'.repeat(50));
    const tenDays = new Date(Date.now() - 10 * 86400e3);
    await fsp.writeFile(
      `${old}.json`,
      JSON.stringify({ digest: digest(1), size: 9, offset: 50, updated: tenDays.toISOString() }),
    );
    await fsp.utimes(old, tenDays, tenDays);
    const result = JSON.parse(await cli(cache, 'prune', '--older-than', '30d', '--json'));
    assert.deepEqual(result.entries, [], 'the entry was used just now');
    assert.equal(result.partials, 1);
    assert.equal(await sizeOf(old), -1);
  });

  it('cache prune without flags removes stale partials only; --all empties the cache', async () => {
    const cache = newCache();
    await pull(cache, 0);
    const stale = partialPath(cache, digest(1));
    await fsp.writeFile(stale, 'partial');
    const fresh = partialPath(cache, digest(2));
    await fsp.writeFile(fresh, 'partial');
    await fsp.writeFile(
      `${fresh}.json`,
      JSON.stringify({ digest: digest(2), size: 9, offset: 7, updated: new Date().toISOString() }),
    );
    // No record: stale whatever its age.
    assert.match(await cli(cache, 'prune'), /removed 0 entries and 1 partial download/);
    assert.equal(await sizeOf(stale), -1);
    assert.equal(await sizeOf(fresh), 7);
    assert.equal(JSON.parse(await cli(cache, 'ls', '--json')).entries.length, 1);
    const all = JSON.parse(await cli(cache, 'prune', '--all', '--json'));
    assert.equal(all.entries.length, 1);
    assert.equal(all.partials, 1);
    assert.equal(JSON.parse(await cli(cache, 'ls', '--json')).entries.length, 0);
    assert.deepEqual(await fsp.readdir(join(cache, 'blobs', 'sha256')), []);
  });

  it('cache prune --older-than refuses a malformed duration', async () => {
    const r = await runCli(['cache', 'prune', '--older-than', 'soon', '--cache-dir', newCache()], {
      cwd: tmp.dir,
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /duration/);
    const json = await runCli(
      ['cache', 'prune', '--older-than', 'soon', '--json', '--cache-dir', newCache()],
      {
        cwd: tmp.dir,
      },
    );
    assert.equal(json.code, 2);
    const { error } = JSON.parse(json.stdout);
    assert.equal(error.code, 'USAGE');
    assert.match(error.message, /duration/);
  });

  it('decompressed-base cache: the second output is cloned, not decompressed', async () => {
    const cache = newCache();
    const settings = { cache: { decompressed: true } };
    const first = await pull(cache, 0, settings);
    assert.equal(first.result.details?.decodedFromCache, undefined);
    const kept = join(cache, 'ocipull', 'decoded', 'sha256', digest(0).slice(7));
    assert.equal(await sha256File(kept), await sha256File(originals[0]!));
    const second = await pull(cache, 0, settings);
    assert.equal(second.result.details?.decodedFromCache, true);
    assert.equal(second.result.cacheHit, true);
    assert.equal(second.result.bytesFetched, 0);
    // Off by default: a plain pull from the same cache decompresses again.
    const third = await pull(cache, 0);
    assert.equal(third.result.details?.decodedFromCache, undefined);
    // Eviction takes the decompressed copy along.
    await cli(cache, 'prune', '--all');
    assert.equal(await sizeOf(kept), -1);
  });
});
