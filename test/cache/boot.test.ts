/**
 * Boot-scoped durability (cache.durability `boot`, the default): a new entry is not fsynced and
 * its record names the boot it was written in; used in another boot (OCIPULL_BOOT_ID stands in
 * for the kernel's boot id) it is rehashed first: a good one is fsynced and recorded as durable,
 * a bad one is removed and fetched again. `fsync` commits every entry durably, as before.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { createLogger, type Settings } from 'ocipull';
import { pullOrchestrator } from '../oci-dir/helpers.js';
import { sha256File } from '../registry/helpers.js';
import { compress, makeDisk } from '../support/disks.js';
import { buildMachineOsLayout, type MachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';
import { blobPath, CACHE_PLUGINS } from './helpers.js';

describe('cache entries across boots', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let layout: MachineOsLayout;
  let original: string;
  let n = 0;
  const saved = process.env.OCIPULL_BOOT_ID;

  before(async () => {
    tmp = await tempDir('ocipull-cache-boot-');
    original = await makeDisk(tmp.dir, { format: 'qcow2', sizeMiB: 32, dataMiB: 3, seed: 23 });
    layout = await buildMachineOsLayout(join(tmp.dir, 'layout'), {
      tag: 'latest',
      nested: true,
      disks: [{ diskType: 'qemu', arch: 'x86_64', path: await compress(original, 'zstd') }],
    });
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.OCIPULL_BOOT_ID;
    else process.env.OCIPULL_BOOT_ID = saved;
  });
  after(() => tmp.cleanup());

  const disk = () => layout.disks[0]!;
  const lines: string[] = [];
  const record = async (cache: string) =>
    JSON.parse(
      await fsp.readFile(
        join(cache, 'ocipull', 'records', 'sha256', `${disk().blobDigest.slice(7)}.json`),
        'utf8',
      ),
    ) as { unsyncedBoot?: string };

  async function pull(cacheDir: string, boot: string, settings: Partial<Settings> = {}) {
    process.env.OCIPULL_BOOT_ID = boot;
    const o = await pullOrchestrator(
      { cacheDir, arch: 'x86_64', diskType: 'qemu', format: 'qcow2', ...settings },
      CACHE_PLUGINS,
    );
    lines.length = 0;
    (o as { log: unknown }).log = createLogger('debug', (line) => lines.push(line));
    const output = join(tmp.dir, `out-${++n}.qcow2`);
    const result = await o.pull({ source: `oci-dir:${layout.layoutDir}:latest`, output });
    assert.equal(await sha256File(output), await sha256File(original), 'output is the original disk');
    return result;
  }

  it('an entry records its boot; the same boot uses it as it is, another boot rehashes it once', async () => {
    const cache = join(tmp.dir, 'cache-good');
    await pull(cache, 'boot-a');
    assert.equal((await record(cache)).unsyncedBoot, 'boot-a');

    const same = await pull(cache, 'boot-a');
    assert.equal(same.cacheHit, true);
    assert.ok(!lines.some((l) => /checking its digest/.test(l)), lines.join('\n'));

    const other = await pull(cache, 'boot-b');
    assert.equal(other.cacheHit, true);
    assert.equal(other.bytesFetched, 0);
    assert.ok(
      lines.some((l) => /written in another boot \(boot-a\); checking its digest/.test(l)),
      lines.join('\n'),
    );
    assert.equal((await record(cache)).unsyncedBoot, undefined, 'rehashed, fsynced: durable now');

    await pull(cache, 'boot-c');
    assert.ok(!lines.some((l) => /checking its digest/.test(l)), 'a durable entry is not rehashed again');
  });

  it('an entry from another boot that lost bytes is removed and fetched again', async () => {
    const cache = join(tmp.dir, 'cache-bad');
    await pull(cache, 'boot-a');
    const path = blobPath(cache, disk().blobDigest);
    const bytes = await fsp.readFile(path);
    // What a crash leaves of unsynced data: a block of zeros where bytes were, same size.
    bytes.fill(0, bytes.length >> 1, (bytes.length >> 1) + 4096);
    await fsp.writeFile(path, bytes);

    const result = await pull(cache, 'boot-b');
    assert.equal(result.cacheHit, false);
    assert.equal(result.bytesFetched, disk().blobSize);
    assert.ok(
      lines.some((l) =>
        /\(written in another boot \(boot-a\)\) does not match its digest; removing it/.test(l),
      ),
      lines.join('\n'),
    );
    assert.equal(await sha256File(path), disk().blobDigest.slice(7), 'the entry is good again');
    assert.equal(
      (await record(cache)).unsyncedBoot,
      'boot-b',
      'the new entry names the boot it was written in',
    );
  });

  it('durability fsync: entries are fsynced and name no boot', async () => {
    const cache = join(tmp.dir, 'cache-fsync');
    await pull(cache, 'boot-a', { cache: { durability: 'fsync' } });
    assert.equal((await record(cache)).unsyncedBoot, undefined);
    await pull(cache, 'boot-b', { cache: { durability: 'fsync' } });
    assert.ok(!lines.some((l) => /checking its digest/.test(l)), lines.join('\n'));
  });

  it('an unknown durability is refused', async () => {
    await assert.rejects(pull(join(tmp.dir, 'cache-x'), 'boot-a', { cache: { durability: 'never' } }), {
      code: 'CONFIG_INVALID',
    });
  });
});
