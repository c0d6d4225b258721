/**
 * Transfers against the real registry (Debian's docker-registry), seen through a transparent tap:
 * a blob download cut mid-body resumes with `Range` + `If-Range` and the registry (which honours
 * If-Range) answers 206; mirrors are tried in order and fall through to the origin.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TransportOptions } from 'ocipull';
import { sha256DigestOfFile } from '../support/independent.js';
import { tempDir } from '../support/paths.js';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.js';
import { RegistryTap } from '../support/registry-tap.js';
import { machineOsFixture, type PublishedDisk, registryOrchestrator } from './helpers.js';

describe('real registry: resume and mirrors', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disk: PublishedDisk;
  let origin: TestRegistry;
  let mirror: TestRegistry;
  let originTap: RegistryTap;
  let mirrorTap: RegistryTap;
  let qcow2Digest: string;
  let n = 0;

  before(async () => {
    tmp = await tempDir('ocipull-real-transfers-');
    disk = await machineOsFixture(tmp.dir, 3);
    qcow2Digest = await sha256DigestOfFile(disk.qcow2);
    [origin, mirror] = await Promise.all([
      startRegistry(join(tmp.dir, 'origin')),
      startRegistry(join(tmp.dir, 'mirror')),
    ]);
    await pushLayout(disk.layout.layoutDir, '5.5', origin.addr, 'podman/machine-os');
    await pushLayout(disk.layout.layoutDir, '5.5', mirror.addr, 'pm/podman/machine-os');
    [originTap, mirrorTap] = await Promise.all([
      RegistryTap.start(origin.addr),
      RegistryTap.start(mirror.addr),
    ]);
  });
  after(async () => {
    await Promise.all([originTap?.stop(), mirrorTap?.stop()]);
    await Promise.all([origin?.stop(), mirror?.stop()]);
    await tmp.cleanup();
  });

  async function pull(transport: TransportOptions = {}) {
    const orchestrator = await registryOrchestrator({ cacheDir: join(tmp.dir, `cache-${++n}`), transport });
    const out = join(tmp.dir, `out-${n}.qcow2`);
    const result = await orchestrator.pull({
      source: `docker://${originTap.addr}/podman/machine-os:5.5`,
      output: out,
    });
    return { result, out };
  }

  it('a blob transfer cut after 1 MiB resumes with Range + If-Range; the registry answers 206; the bytes are right', async () => {
    const started = originTap.requests.length;
    const cut = 1024 * 1024;
    originTap.throttle({
      times: 1,
      cutAfterBytes: cut,
      match: (r) => r.kind === 'blob' && r.method === 'GET' && r.reference === disk.blobDigest,
    });
    try {
      const { out } = await pull();
      assert.equal(await sha256DigestOfFile(out), qcow2Digest);
    } finally {
      originTap.clear();
    }
    const gets = originTap.requests
      .slice(started)
      .filter((r) => r.kind === 'blob' && r.method === 'GET' && r.reference === disk.blobDigest);
    assert.ok(gets.length >= 2, `${gets.length} GETs of the layer`);
    const [first, resumed] = [gets[0]!, gets.at(-1)!];
    assert.equal(first.status, 200);
    const etag = first.responseHeaders?.etag;
    assert.ok(etag, 'the registry sent an ETag');
    const range = /^bytes=(\d+)-$/.exec(String(resumed.headers.range));
    assert.ok(range, `resumed with Range: ${resumed.headers.range}`);
    const from = Number(range[1]);
    assert.ok(from > 0 && from <= cut, `resumed from ${from}`);
    assert.equal(resumed.headers['if-range'], etag);
    assert.equal(resumed.status, 206, 'the real registry honoured If-Range');
    assert.equal(
      resumed.responseHeaders?.['content-range'],
      `bytes ${from}-${disk.blobSize - 1}/${disk.blobSize}`,
    );
  });

  it('the real registry answers a stale If-Range with the whole blob (200), a matching one with 206', async () => {
    const url = `http://${origin.addr}/v2/podman/machine-os/blobs/${disk.blobDigest}`;
    const head = await fetch(url, { method: 'HEAD' });
    const etag = head.headers.get('etag')!;
    const matching = await fetch(url, { headers: { range: 'bytes=100-', 'if-range': etag } });
    assert.equal(matching.status, 206);
    assert.equal((await matching.arrayBuffer()).byteLength, disk.blobSize - 100);
    const stale = await fetch(url, { headers: { range: 'bytes=100-', 'if-range': '"sha256:0000"' } });
    assert.equal(stale.status, 200);
    assert.equal((await stale.arrayBuffer()).byteLength, disk.blobSize);
  });

  it('tries mirrors in order (dead, missing repository, path prefix), the origin not asked; all failing: the origin', async () => {
    const originBefore = originTap.requests.length;
    const mirrorBefore = mirrorTap.requests.length;
    const mirrors = {
      [originTap.addr]: ['127.0.0.1:1', `${mirrorTap.addr}/nothing-here`, `${mirrorTap.addr}/pm`],
    };
    const { out, result } = await pull({ mirrors, settings: { docker: { retries: 0 } } });
    assert.equal(await sha256DigestOfFile(out), qcow2Digest);
    assert.equal(result.blobDigest, disk.blobDigest);
    assert.equal(originTap.requests.length, originBefore, 'the origin was not asked');
    const seen = mirrorTap.requests.slice(mirrorBefore);
    const manifests = seen.filter((r) => r.kind === 'manifest');
    assert.equal(manifests[0]?.repository, 'nothing-here/podman/machine-os');
    assert.equal(manifests[0]?.status, 404);
    assert.ok(manifests.slice(1).every((r) => r.repository === 'pm/podman/machine-os' && r.status === 200));
    assert.equal(seen.filter((r) => r.kind === 'blob' && r.method === 'GET').length, 1);

    const viaOrigin = await pull({ mirrors: { [originTap.addr]: [`${mirrorTap.addr}/nothing-here`] } });
    assert.equal(await sha256DigestOfFile(viaOrigin.out), qcow2Digest);
    assert.equal(
      originTap.requests.slice(originBefore).filter((r) => r.kind === 'blob' && r.method === 'GET').length,
      1,
    );
  });
});
