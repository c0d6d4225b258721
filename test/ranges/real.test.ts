/**
 * Parallel ranged downloads against the real registry (Debian's docker-registry), seen through
 * a transparent tap: a blob of a few tens of MiB made by code, 4 connections, 1 MiB ranges.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256File } from '../registry/helpers.js';
import { tempDir } from '../support/paths.js';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.js';
import { RegistryTap } from '../support/registry-tap.js';
import { type RangedDisk, rangedFixture, rangedOrchestrator, rangeOf } from './helpers.js';

describe('real registry: parallel ranged download of one blob', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disk: RangedDisk;
  let registry: TestRegistry;
  let tap: RegistryTap;

  before(async () => {
    tmp = await tempDir('ocipull-ranges-real-');
    disk = await rangedFixture(tmp.dir, 48, 23);
    registry = await startRegistry(join(tmp.dir, 'registry'));
    await pushLayout(disk.layout.layoutDir, '5.5', registry.addr, 'podman/machine-os');
    tap = await RegistryTap.start(registry.addr);
  });
  after(async () => {
    await tap?.stop();
    await registry?.stop();
    await tmp.cleanup();
  });

  it('pulls a blob of tens of MiB byte-identical over several ranged requests, each answered 206', async () => {
    assert.ok(disk.blobSize > 20 << 20, `a blob of tens of MiB (${disk.blobSize} bytes)`);
    const orchestrator = await rangedOrchestrator({ cacheDir: join(tmp.dir, 'cache') });
    const out = join(tmp.dir, 'out.qcow2');
    const started = tap.requests.length;
    const result = await orchestrator.pull({
      source: `docker://${tap.addr}/podman/machine-os:5.5`,
      output: out,
    });
    assert.equal(result.blobDigest, disk.blobDigest);
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    const blobs = tap.requests
      .slice(started)
      .filter((r) => r.kind === 'blob' && r.reference === disk.blobDigest);
    assert.ok(blobs.length >= 20, `several ranged requests (${blobs.length})`);
    let covered = 0;
    for (const r of blobs) {
      assert.equal(r.status, 206, `${r.headers.range} answered ${r.status}`);
      const [a, b] = rangeOf(r.headers.range, disk.blobSize);
      assert.equal(r.responseHeaders?.['content-range'], `bytes ${a}-${b - 1}/${disk.blobSize}`);
      covered += b - a;
    }
    assert.equal(covered, disk.blobSize, 'the ranges cover the blob once');
    // Every range after the first is conditional on the validator the first answer carried.
    const etag = blobs[0]!.responseHeaders?.etag;
    assert.ok(etag, 'the registry sends an ETag');
    assert.ok(blobs.slice(1).every((r) => r.headers['if-range'] === etag));
  });
});
