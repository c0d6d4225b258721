/**
 * The cache in process (oci-dir source, real plugins from dist/): corrupted entries and partials
 * are detected and refetched, a complete partial is verified without fetching, records and locks
 * behave, and the cache directory is a layout `oci-dir:` reads.
 */
import assert from 'node:assert/strict';
import { promises as fsp, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger, isOcipullError, type Settings } from 'ocipull';
import { pullOrchestrator } from '../oci-dir/helpers.js';
import { sha256File } from '../registry/helpers.js';
import { compress, makeDisk } from '../support/disks.js';
import { buildMachineOsLayout, type MachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';
import { blobPath, CACHE_PLUGINS, partialPath, sizeOf } from './helpers.js';

describe('cache entries and partials', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let layout: MachineOsLayout;
  let original: string;
  let n = 0;

  before(async () => {
    tmp = await tempDir('ocipull-cache-entries-');
    original = await makeDisk(tmp.dir, { format: 'qcow2', sizeMiB: 32, dataMiB: 3, seed: 11 });
    layout = await buildMachineOsLayout(join(tmp.dir, 'layout'), {
      tag: 'latest',
      nested: true,
      disks: [{ diskType: 'qemu', arch: 'x86_64', path: await compress(original, 'zstd') }],
    });
  });
  after(() => tmp.cleanup());

  const disk = () => layout.disks[0]!;
  const source = () => `oci-dir:${layout.layoutDir}:latest`;
  const newCache = () => join(tmp.dir, `cache-${++n}`);
  const lines: string[] = [];

  async function pull(cacheDir: string, settings: Partial<Settings> = {}, from = source()) {
    const o = await pullOrchestrator(
      { cacheDir, arch: 'x86_64', diskType: 'qemu', format: 'qcow2', ...settings },
      CACHE_PLUGINS,
    );
    (o as { log: unknown }).log = createLogger('info', (line) => lines.push(line));
    const output = join(tmp.dir, `out-${++n}.qcow2`);
    const result = await o.pull({ source: from, output });
    assert.equal(await sha256File(output), await sha256File(original), 'output is the original disk');
    return { result, output, o };
  }

  it('records source, manifest, title, size and last use; list shows them', async () => {
    const cache = newCache();
    const before = Date.now();
    const { o } = await pull(cache);
    const after = Date.now();
    const entries = await (await o.getCache())!.list!();
    assert.equal(entries.length, 1);
    const [entry] = entries;
    assert.equal(entry!.digest, disk().blobDigest);
    assert.equal(entry!.size, disk().blobSize);
    assert.equal(entry!.title, disk().title);
    assert.equal(entry!.source, source());
    assert.equal(entry!.manifestDigest, disk().manifestDigest);
    const lastUsed = Date.parse(entry!.lastUsed!);
    assert.ok(lastUsed >= before - 1 && lastUsed <= after, `last use ${entry!.lastUsed} is this pull's`);
    assert.equal(entry!.path, blobPath(cache, disk().blobDigest));
  });

  for (const where of ['middle', 'end'] as const) {
    it(`a cache entry corrupted in the ${where} is detected, removed and refetched`, async () => {
      const cache = newCache();
      await pull(cache);
      const path = blobPath(cache, disk().blobDigest);
      const bytes = await fsp.readFile(path);
      const at = where === 'middle' ? bytes.length >> 1 : bytes.length - 1;
      bytes[at]! ^= 0x5a;
      await fsp.writeFile(path, bytes);
      lines.length = 0;
      const { result } = await pull(cache);
      assert.equal(result.cacheHit, false);
      assert.equal(result.bytesFetched, disk().blobSize);
      assert.ok(
        lines.some((l) => /corrupt and has been removed/.test(l)),
        lines.join('\n'),
      );
      assert.equal(await sha256File(path), disk().blobDigest.slice(7), 'the entry is good again');
    });
  }

  it('a truncated cache entry is treated as absent and refetched', async () => {
    const cache = newCache();
    await pull(cache);
    await fsp.truncate(blobPath(cache, disk().blobDigest), 1000);
    const { result } = await pull(cache);
    assert.equal(result.cacheHit, false);
    assert.equal(result.bytesFetched, disk().blobSize);
  });

  async function plantPartial(cache: string, bytes: Buffer, record: Record<string, unknown> = {}) {
    const path = partialPath(cache, disk().blobDigest);
    await fsp.mkdir(join(path, '..'), { recursive: true });
    await fsp.writeFile(path, bytes);
    await fsp.writeFile(
      `${path}.json`,
      JSON.stringify({
        digest: disk().blobDigest,
        size: disk().blobSize,
        offset: bytes.length,
        updated: new Date().toISOString(),
        ...record,
      }),
    );
    return path;
  }
  const blobBytes = () => fsp.readFile(blobPath(layout.layoutDir, disk().blobDigest));

  it('a good partial is resumed: only the rest is read from the source', async () => {
    const cache = newCache();
    const half = (await blobBytes()).subarray(0, disk().blobSize >> 1);
    const path = await plantPartial(cache, half);
    const { result } = await pull(cache);
    assert.equal(result.bytesFetched, disk().blobSize - half.length);
    assert.equal(result.details?.resumedFrom, half.length);
    assert.equal(await sizeOf(path), -1);
  });

  for (const where of ['start', 'tail'] as const) {
    it(`a partial corrupted at its ${where} is discarded and the blob fetched again`, async () => {
      const cache = newCache();
      const half = Buffer.from((await blobBytes()).subarray(0, disk().blobSize >> 1));
      half[where === 'start' ? 100 : half.length - 1]! ^= 0xff;
      await plantPartial(cache, half);
      lines.length = 0;
      const { result } = await pull(cache);
      assert.equal(result.bytesFetched, disk().blobSize, 'fetched from the start');
      assert.equal(result.details?.resumedFrom, 0);
      assert.ok(
        lines.some((l) => /resumed partial .* did not verify/.test(l)),
        lines.join('\n'),
      );
    });
  }

  it('a partial whose record names another blob or size is never trusted', async () => {
    const cache = newCache();
    const half = (await blobBytes()).subarray(0, 4096);
    await plantPartial(cache, half, { size: disk().blobSize + 1 });
    const { result } = await pull(cache);
    assert.equal(result.bytesFetched, disk().blobSize);
    assert.equal(result.details?.resumedFrom, 0);
  });

  it('a complete partial (killed before commit) is verified with no fetch', async () => {
    const cache = newCache();
    await plantPartial(cache, await blobBytes());
    const { result } = await pull(cache);
    assert.equal(result.bytesFetched, 0);
    assert.equal(result.details?.resumedFrom, disk().blobSize);
    assert.equal(await sizeOf(blobPath(cache, disk().blobDigest)), disk().blobSize);
  });

  it('a lock left by a dead process is taken over once stale', async () => {
    const cache = newCache();
    const [algorithm, hex] = disk().blobDigest.split(':');
    const lock = join(cache, 'ocipull', 'locks', algorithm!, `${hex}.lock`);
    await fsp.mkdir(lock, { recursive: true });
    const old = new Date(Date.now() - 60_000);
    await fsp.utimes(lock, old, old);
    const from = lines.length;
    const { result } = await pull(cache);
    assert.equal(result.cacheHit, false);
    assert.ok(
      !lines.slice(from).some((l) => l.includes('waiting for another ocipull process')),
      `taken over, not waited for: ${lines.slice(from).join('')}`,
    );
    assert.equal(await sizeOf(lock), -1, 'the lock was released');
  });

  it('the cache is an OCI layout: oci-dir: pulls from it by digest', async () => {
    const cache = newCache();
    await pull(cache);
    const index = JSON.parse(await fsp.readFile(join(cache, 'index.json'), 'utf8'));
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0].annotations['io.ocipull.cache.reference'], source());
    const { result } = await pull(newCache(), {}, `oci-dir:${cache}@${index.manifests[0].digest}`);
    assert.equal(result.blobDigest, disk().blobDigest);
  });

  it('a cache that cannot record a use costs a warning, not the pull', async () => {
    const cacheDir = newCache();
    const o = await pullOrchestrator(
      { cacheDir, arch: 'x86_64', diskType: 'qemu', format: 'qcow2' },
      CACHE_PLUGINS,
    );
    const warnings: string[] = [];
    (o as { log: unknown }).log = createLogger('warn', (line) => warnings.push(line));
    const cache = (await o.getCache())!;
    cache.used = async () => {
      throw new Error('records.json: no space left on device');
    };
    const output = join(tmp.dir, `out-${++n}.qcow2`);
    const result = await o.pull({ source: source(), output });
    assert.equal(await sha256File(output), await sha256File(original));
    assert.equal(result.cacheHit, false);
    assert.ok(
      warnings.some((l) => l.includes('cannot record the use') && l.includes('no space left')),
      warnings.join('\n'),
    );
    assert.equal(await sizeOf(blobPath(cacheDir, disk().blobDigest)), disk().blobSize);
  });

  it('an output that fails after the blob was committed keeps the verified cache entry, no partial', async () => {
    const cacheDir = newCache();
    const o = await pullOrchestrator(
      { cacheDir, arch: 'x86_64', diskType: 'qemu', format: 'qcow2' },
      CACHE_PLUGINS,
    );
    const output = join(tmp.dir, `out-${++n}.qcow2`);
    // Someone else writes the output while the disk is being decompressed: no --replace.
    o.hooks.progress.tap('race', (event) => {
      if (event.phase === 'write') writeFileSync(output, 'not ours');
    });
    await assert.rejects(o.pull({ source: source(), output }), (e: unknown) => {
      assert.ok(isOcipullError(e, 'OUTPUT_EXISTS'), String(e));
      return true;
    });
    assert.equal(await fsp.readFile(output, 'utf8'), 'not ours', 'the other file is untouched');
    assert.equal(await sizeOf(blobPath(cacheDir, disk().blobDigest)), disk().blobSize);
    await assert.rejects(fsp.stat(partialPath(cacheDir, disk().blobDigest)), { code: 'ENOENT' });
    await assert.rejects(fsp.stat(`${partialPath(cacheDir, disk().blobDigest)}.json`), { code: 'ENOENT' });
    const again = await pull(cacheDir);
    assert.equal(again.result.cacheHit, true);
  });
});
