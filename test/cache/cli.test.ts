/**
 * The cache through the real CLI against the real registry (Debian's docker-registry, seen
 * through a transparent tap that records the requests and can pace a body or go down): hits cost
 * no blob bytes, a download killed with SIGKILL resumes where it stopped (Range + If-Range with
 * the registry's own ETag, answered 206), four concurrent pulls download once, --offline and an
 * unreachable registry are served from the cache, and `cache export` feeds an air-gapped pull.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { machineOsFixture, type PublishedDisk, sha256File } from '../registry/helpers.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/paths.js';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.js';
import { RegistryTap } from '../support/registry-tap.js';
import { exited, partialPath, sizeOf, startCli, waitFor } from './helpers.js';

describe('cache through the CLI', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disk: PublishedDisk;
  let registry: TestRegistry;
  let tap: RegistryTap;
  let n = 0;

  before(async () => {
    tmp = await tempDir('ocipull-cache-cli-');
    disk = await machineOsFixture(tmp.dir, 6);
    registry = await startRegistry(join(tmp.dir, 'registry'));
    await pushLayout(disk.layout.layoutDir, '5.5', registry.addr, 'podman/machine-os');
    tap = await RegistryTap.start(registry.addr);
  });
  after(async () => {
    await tap?.stop();
    await registry?.stop();
    await tmp.cleanup();
  });

  const src = () => `docker://${tap.addr}/podman/machine-os:5.5`;
  const newCache = () => join(tmp.dir, `cache-${++n}`);
  const out = () => join(tmp.dir, `out-${++n}.qcow2`);
  const pullArgs = (cache: string, output: string, ...extra: string[]) => [
    'pull',
    src(),
    '--arch',
    'x86_64',
    '--cache-dir',
    cache,
    '-o',
    output,
    '--json',
    ...extra,
  ];
  const layerGets = () =>
    tap.requests.filter((r) => r.kind === 'blob' && r.method === 'GET' && r.reference === disk.blobDigest);

  async function pull(cache: string, ...extra: string[]) {
    const output = out();
    const r = await runCli(pullArgs(cache, output, ...extra), { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);
    return { result: JSON.parse(r.stdout), output, stderr: r.stderr };
  }

  it('a second pull is a hit: no blob bytes, the same output', async () => {
    const cache = newCache();
    const first = await pull(cache);
    assert.equal(first.result.cacheHit, false);
    assert.equal(first.result.bytesFetched, disk.blobSize);
    const gets = layerGets().length;
    const second = await pull(cache);
    assert.equal(second.result.cacheHit, true);
    assert.equal(second.result.bytesFetched, 0);
    assert.equal(layerGets().length, gets, 'the layer was not requested again');
    assert.equal(await sha256File(second.output), disk.qcow2Sha256);
    assert.equal(await sha256File(first.output), disk.qcow2Sha256);
  });

  it('resumes a download killed with SIGKILL mid-blob: fetches only the rest, same bytes', async () => {
    const cache = newCache();
    tap.throttle({ times: 1, chunkBytes: 32 * 1024, delayMs: 40 });
    const started = tap.requests.length;
    const output = out();
    const child = startCli(pullArgs(cache, output), tmp.dir);
    const partial = partialPath(cache, disk.blobDigest);
    await waitFor(async () => (await sizeOf(partial)) >= 512 * 1024, 30_000, 'the partial to grow');
    child.kill('SIGKILL');
    assert.equal((await exited(child)).signal, 'SIGKILL');
    tap.clear();
    const kept = await sizeOf(partial);
    assert.ok(kept > 0 && kept < disk.blobSize, `partial of ${kept} bytes`);
    const record = JSON.parse(await fsp.readFile(`${partial}.json`, 'utf8'));
    assert.equal(record.digest, disk.blobDigest);
    assert.match(record.url, /^https?:\/\/127\.0\.0\.1/);
    const served = tap.requests
      .slice(started)
      .find((r) => r.kind === 'blob' && r.method === 'GET' && r.reference === disk.blobDigest);
    assert.ok(served?.responseHeaders?.etag, 'the registry sent an ETag');
    assert.equal(record.etag, served.responseHeaders.etag, "the partial keeps the registry's ETag");
    await fsp.rm(output, { force: true });
    // The killed process's lock is taken over once stale (2 s here instead of the default 10 s).
    const config = join(tmp.dir, 'stale-lock.json');
    await fsp.writeFile(config, JSON.stringify({ cache: { lockStaleMs: 2000 } }));
    const before = tap.requests.length;
    const { result, output: second } = await pull(cache, '--config', config);
    // (Under load the lock may already be stale when this run starts: no waiting asserted here.)
    assert.equal(result.cacheHit, false);
    assert.equal(result.bytesFetched, disk.blobSize - kept, 'only the rest was fetched');
    const resumed = tap.requests
      .slice(before)
      .filter((r) => r.kind === 'blob' && r.reference === disk.blobDigest);
    assert.equal(resumed.at(-1)?.headers.range, `bytes=${kept}-`);
    assert.equal(resumed.at(-1)?.headers['if-range'], record.etag);
    assert.equal(resumed.at(-1)?.status, 206, 'the registry honoured If-Range');
    assert.equal(await sha256File(second), disk.qcow2Sha256);
    assert.equal(await sizeOf(partial), -1, 'the partial became the entry');
  });

  it('four concurrent pulls into one cache all succeed with one download', async () => {
    const cache = newCache();
    tap.throttle({ times: 4, chunkBytes: 256 * 1024, delayMs: 20 });
    const gets = layerGets().length;
    const outputs = [out(), out(), out(), out()];
    const runs = await Promise.all(outputs.map((o) => runCli(pullArgs(cache, o), { cwd: tmp.dir })));
    tap.clear();
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const results = runs.map((r) => JSON.parse(r.stdout));
    assert.equal(layerGets().length - gets, 1, 'the layer was downloaded once');
    assert.equal(results.filter((r) => !r.cacheHit).length, 1);
    assert.equal(
      results.reduce((sum, r) => sum + r.bytesFetched, 0),
      disk.blobSize,
    );
    for (const o of outputs) assert.equal(await sha256File(o), disk.qcow2Sha256);
  });

  it('--offline and an unreachable registry are served from the cache, and say so', async () => {
    const cache = newCache();
    await pull(cache);
    const before = tap.requests.length;
    const offline = await pull(cache, '--offline');
    assert.equal(tap.requests.length, before, 'no request reached the registry');
    assert.equal(offline.result.cacheHit, true);
    assert.equal(offline.result.source, src());
    assert.match(offline.stderr, /offline: using .* from the cache/);
    assert.equal(await sha256File(offline.output), disk.qcow2Sha256);

    // Not cached: --offline fails with OFFLINE and touches nothing.
    const missing = await runCli(pullArgs(newCache(), out(), '--offline'), { cwd: tmp.dir });
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /OFFLINE/);
    assert.equal(tap.requests.length, before);

    // An unreachable registry (the tap drops every connection) falls back to the remembered tag.
    tap.down = true;
    try {
      const r = await runCli(pullArgs(cache, out()), {
        cwd: tmp.dir,
        env: { OCIPULL_RETRY_DELAY_MS: '1' },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).cacheHit, true);
      assert.match(r.stderr, /unreachable .* using the copy in the cache/);
    } finally {
      tap.clear();
    }
  });

  it('cache export writes a layout an air-gapped host pulls from', async () => {
    const cache = newCache();
    await pull(cache);
    const layout = join(tmp.dir, 'exported');
    const r = await runCli(['cache', 'export', src(), `oci-dir:${layout}`, '--cache-dir', cache, '--json'], {
      cwd: tmp.dir,
    });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.disks, 1);
    assert.equal(report.destination, `oci-dir:${layout}:5.5`);
    const output = out();
    const pulled = await runCli(
      [
        'pull',
        `oci-dir:${layout}:5.5`,
        '--arch',
        'x86_64',
        '--cache-dir',
        newCache(),
        '-o',
        output,
        '--json',
      ],
      { cwd: tmp.dir },
    );
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(await sha256File(output), disk.qcow2Sha256);

    const notCached = await runCli(
      ['cache', 'export', src(), `oci-dir:${join(tmp.dir, 'nothing')}`, '--cache-dir', newCache()],
      { cwd: tmp.dir },
    );
    assert.equal(notCached.code, 3, notCached.stderr);
    assert.match(notCached.stderr, /OFFLINE.*not in the cache/);
    await assert.rejects(fsp.stat(join(tmp.dir, 'nothing')), { code: 'ENOENT' });

    // The documents are cached but the disk is gone: refused before any layout is made.
    const blob = JSON.parse(
      (await runCli(['cache', 'ls', '--json', '--cache-dir', cache], { cwd: tmp.dir })).stdout,
    ).entries[0].path;
    await fsp.rm(blob);
    const noDisk = await runCli(
      ['cache', 'export', src(), `oci-dir:${join(tmp.dir, 'no-disk')}`, '--cache-dir', cache],
      { cwd: tmp.dir },
    );
    assert.equal(noDisk.code, 3, noDisk.stderr);
    assert.match(noDisk.stderr, /OFFLINE.*no disk of/);
    await assert.rejects(fsp.stat(join(tmp.dir, 'no-disk')), { code: 'ENOENT' });
  });
});
