/**
 * Parallel ranged downloads against the in-process fault-injecting registry: each range retried
 * alone, a 200 to a ranged request, a blob that changes between ranges, a restart with gaps
 * (only the gaps fetched again) and a redirect per range without Authorization.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isOcipullError } from 'ocipull';
import { exists, recordingLogger, sha256File } from '../registry/helpers.js';
import { FakeRegistry, type FakeRequest, overlapped } from '../support/fake-registry.js';
import { tempDir } from '../support/paths.js';
import { type RangedDisk, rangedFixture, rangedOrchestrator, rangeOf } from './helpers.js';

const MiB = 1 << 20;

describe('parallel ranged downloads against the fault-injecting registry', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disk: RangedDisk;
  let fake: FakeRegistry;
  let n = 0;

  before(async () => {
    tmp = await tempDir('ocipull-ranges-fake-');
    disk = await rangedFixture(tmp.dir, 12);
    assert.ok(disk.blobSize > 5 * MiB, `the blob (${disk.blobSize} bytes) spans several 1 MiB ranges`);
    fake = await FakeRegistry.start({ layoutDir: disk.layout.layoutDir });
  });
  after(async () => {
    await fake.stop();
    await tmp.cleanup();
  });
  afterEach(() => fake.clearFaults());

  const src = () => `docker://${fake.addr}/podman/machine-os:5.5`;
  const blobRequests = (from: number) =>
    fake.requests.slice(from).filter((r) => r.kind === 'blob' && r.reference === disk.blobDigest);
  const startsAt = (at: number) => (r: FakeRequest) =>
    r.kind === 'blob' && rangeOf(r.headers.range, disk.blobSize)[0] === at;

  async function pull(options: { cacheDir?: string; settings?: object; signal?: AbortSignal } = {}) {
    const { log, lines } = recordingLogger();
    const cacheDir = options.cacheDir ?? join(tmp.dir, `cache-${++n}`);
    const orchestrator = await rangedOrchestrator({ cacheDir, ...options.settings }, log);
    const out = join(tmp.dir, `out-${++n}.qcow2`);
    const from = fake.requests.length;
    const served = fake.blobBytesServed;
    try {
      const result = await orchestrator.pull({ source: src(), output: out, signal: options.signal });
      return {
        result,
        out,
        lines,
        cacheDir,
        requests: blobRequests(from),
        served: fake.blobBytesServed - served,
      };
    } catch (error) {
      (error as { lines?: string[] }).lines = lines;
      assert.equal(await exists(out), false, 'nothing is left at the output path');
      throw error;
    }
  }

  /** Every file under `dir` (relative paths). */
  async function files(dir: string): Promise<string[]> {
    const entries = await fsp.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
  }

  it('fetches a large blob in bounded ranges over several connections, byte-identical', async () => {
    const { out, requests, served } = await pull();
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    const ranges = requests.map((r) => rangeOf(r.headers.range, disk.blobSize));
    assert.ok(ranges.length >= 5, `several ranged requests (${ranges.length})`);
    assert.ok(
      requests.every((r) => r.headers.range !== undefined),
      'every blob request names a range',
    );
    // The ranges tile the blob exactly once.
    const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
    assert.equal(sorted[0]![0], 0);
    for (let i = 1; i < sorted.length; i++) assert.equal(sorted[i]![0], sorted[i - 1]![1]);
    assert.equal(sorted[sorted.length - 1]![1], disk.blobSize);
    assert.equal(served, disk.blobSize, 'no byte served twice');
    assert.ok(
      requests.some((a, i) => requests.some((b, j) => i !== j && overlapped(a, b))),
      'ranges were in flight at the same time',
    );
  });

  it('on demand, a source that answers slowly gets more connections; every byte still comes once', async () => {
    // 64 KiB every 20 ms per connection: one connection leaves the decoder waiting.
    fake.inject({ match: 'blob', times: 1000, fault: { kind: 'slow', chunkBytes: 64 * 1024, delayMs: 20 } });
    const { out, requests, served, lines } = await pull({ settings: { connectionsOnDemand: true } });
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    assert.equal(served, disk.blobSize, 'no byte served twice');
    assert.ok(
      lines.some((l) => /over 1 of 4 connections/.test(l)),
      `starts with one connection:\n${lines.join('\n')}`,
    );
    assert.ok(
      lines.some((l) =>
        /: [24] connections \(first answer after \d+ ms, consumer waited \d+ of \d+ ms after the first chunk/.test(
          l,
        ),
      ),
      `more connections were started:\n${lines.join('\n')}`,
    );
    assert.ok(
      requests.some((a, i) => requests.some((b, j) => i !== j && overlapped(a, b))),
      'ranges were in flight at the same time',
    );
  });

  it('on demand, a fast source is still fetched in ranges that tile the blob once', async () => {
    const { out, requests, served, lines } = await pull({ settings: { connectionsOnDemand: true } });
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    assert.equal(served, disk.blobSize, 'no byte served twice');
    assert.ok(requests.length >= 5, `several ranged requests (${requests.length})`);
    assert.ok(
      lines.some((l) => /over 1 of 4 connections/.test(l)),
      lines.join('\n'),
    );
  });

  it('connections 1 fetches the blob as one stream', async () => {
    const { out, requests } = await pull({ settings: { connections: 1 } });
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.headers.range, undefined);
  });

  it('a range dropped mid-body is retried alone, from the byte it reached', async () => {
    const faults = fake.faultsServed;
    fake.inject({ match: startsAt(2 * MiB), fault: { kind: 'reset', afterBytes: 300 * 1024 } });
    const { out, requests, lines } = await pull();
    assert.equal(fake.faultsServed - faults, 1);
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    const ranges = requests.map((r) => rangeOf(r.headers.range, disk.blobSize));
    const inDropped = ranges.filter(([a]) => a >= 2 * MiB && a < 3 * MiB);
    assert.equal(inDropped.length, 2, `the dropped range and its retry: ${JSON.stringify(ranges)}`);
    const retry = inDropped.find(([a]) => a > 2 * MiB)!;
    assert.ok(retry, 'the retry asks from past the start of the range');
    assert.equal(retry[1], 3 * MiB, 'and only up to the end of that range');
    // Every other range was asked for once.
    assert.equal(ranges.length - inDropped.length, new Set(ranges.map(([a]) => a)).size - 2);
    assert.ok(lines.some((l) => l.includes('reconnecting at byte')));
  });

  it('a 200 to the first ranged request falls back to one stream (that answer reused), still correct', async () => {
    fake.inject({ match: 'blob', fault: { kind: 'ignoreRange' } });
    const { out, requests, lines } = await pull();
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    assert.equal(requests.length, 1, 'the whole-blob answer is read on, not fetched again');
    assert.ok(lines.some((l) => l.includes('did not answer a bounded range')));
  });

  it('a 200 to a later ranged request is read up to the range it was asked for, still correct', async () => {
    const faults = fake.faultsServed;
    fake.inject({ match: startsAt(3 * MiB), fault: { kind: 'ignoreRange' } });
    const { out, requests } = await pull();
    assert.equal(fake.faultsServed - faults, 1);
    assert.ok(requests.length >= 5, 'the other ranges stayed ranged');
    assert.equal(await sha256File(out), disk.qcow2Sha256);
  });

  it('a blob that changes between ranges fails DIGEST_MISMATCH: nothing in the cache or at the output', async () => {
    const last = Math.floor(disk.blobSize / MiB - 1) * MiB;
    fake.inject({ match: startsAt(last), fault: { kind: 'changed', etag: '"v2"', bytesChanged: true } });
    const cacheDir = join(tmp.dir, 'cache-changed');
    await assert.rejects(pull({ cacheDir }), (error: unknown) => {
      assert.ok(isOcipullError(error), String(error));
      assert.equal(error.code, 'DIGEST_MISMATCH', error.message);
      return true;
    });
    const hex = disk.blobDigest.split(':')[1]!;
    assert.ok((await files(cacheDir)).length > 0, 'the cache was in use');
    const left = (await files(cacheDir)).filter((f) => f.includes(hex) && !f.includes('locks'));
    assert.deepEqual(left, [], 'no blob, partial or record of it in the cache');
  });

  it('a restart with gaps fetches only the gaps (bytes served counted)', async () => {
    // Ranges 1 and 3 stall after a little; 0, 2 and 4 complete and are recorded.
    fake.inject({ match: startsAt(1 * MiB), fault: { kind: 'stall', afterBytes: 64 * 1024 } });
    fake.inject({ match: startsAt(3 * MiB), fault: { kind: 'stall', afterBytes: 64 * 1024 } });
    const cacheDir = join(tmp.dir, 'cache-restart');
    const hex = disk.blobDigest.split(':')[1]!;
    const recordPath = join(cacheDir, 'ocipull', 'partials', 'sha256', `${hex}.json`);
    const held = async () => {
      try {
        const record = JSON.parse(await fsp.readFile(recordPath, 'utf8')) as { ranges?: [number, number][] };
        return record.ranges ?? [];
      } catch {
        return [];
      }
    };
    const stop = new AbortController();
    const first = pull({ cacheDir, signal: stop.signal });
    const settled = first.then(
      () => 'finished',
      (e: unknown) => e,
    );
    let ranges: [number, number][] = [];
    for (let i = 0; i < 2000; i++) {
      ranges = await held();
      if (ranges.length >= 3) break;
      await sleep(10);
    }
    assert.deepEqual(
      ranges,
      [
        [0, MiB],
        [2 * MiB, 3 * MiB],
        [4 * MiB, 5 * MiB],
      ],
      'the record lists the complete ranges',
    );
    stop.abort(new Error('stopped by the test'));
    const outcome = await settled;
    assert.notEqual(outcome, 'finished');
    fake.clearFaults();
    const kept = (await held()).reduce((sum, [a, b]) => sum + b - a, 0);
    assert.equal(kept, 3 * MiB, 'the interrupted pull kept its complete ranges');
    const { out, served, requests, lines } = await pull({ cacheDir });
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    assert.equal(served, disk.blobSize - kept, 'only the gaps were served again');
    const asked = requests.map((r) => rangeOf(r.headers.range, disk.blobSize));
    for (const [a, b] of asked) {
      assert.ok(
        !(a < MiB) && !(a >= 2 * MiB && b <= 3 * MiB) && !(a >= 4 * MiB && b <= 5 * MiB),
        `${a}-${b}`,
      );
    }
    assert.ok(
      lines.some((l) => l.includes('in 3 ranges') || l.includes('3 ranges')),
      lines.join('\n'),
    );
  });

  it('a redirect to a storage host is followed per range, without Authorization there', async () => {
    const basic = await FakeRegistry.start({
      layoutDir: disk.layout.layoutDir,
      auth: { scheme: 'basic', username: 'alice', password: 's3cret-pw' },
    });
    try {
      basic.inject({ match: 'blob', times: 1000, fault: { kind: 'redirect' } });
      const { log, lines } = recordingLogger();
      const orchestrator = await rangedOrchestrator(
        { cacheDir: join(tmp.dir, 'cache-redirect'), transport: { creds: 'alice:s3cret-pw' } },
        log,
      );
      const out = join(tmp.dir, 'out-redirect.qcow2');
      await orchestrator.pull({ source: `docker://${basic.addr}/podman/machine-os:5.5`, output: out });
      assert.equal(await sha256File(out), disk.qcow2Sha256);
      const blobs = basic.of('blob').filter((r) => r.reference === disk.blobDigest);
      const storage = basic.of('storage').filter((r) => r.reference === disk.blobDigest);
      assert.ok(storage.length >= 5, `one storage request per range (${storage.length})`);
      assert.equal(storage.length, blobs.length, 'each range redirected and followed');
      for (const r of storage) {
        assert.equal(r.headers.authorization, undefined, 'no Authorization to the storage host');
        assert.ok(r.headers.range, 'the range goes with the redirect');
      }
      assert.ok(blobs.every((r) => r.headers.authorization?.startsWith('Basic ')));
      assert.ok(!lines.join('').includes('s3cret-pw'));
    } finally {
      await basic.stop();
    }
  });
});
