/**
 * Network faults through the in-process fault-injecting registry.
 * Every case ends with a byte-identical disk or its documented code; in both the output
 * directory holds nothing else and every blob visible in the cache hashes to its name.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { createLogger, type ErrorCode, type PullResult } from 'ocipull';
import { machineOsFixture, type PublishedDisk } from '../registry/helpers.js';
import { FakeRegistry, type FakeRequest, type Fault } from '../support/fake-registry.js';
import { tempDir } from '../support/paths.js';
import { verifyCache } from './cache-check.js';
import { ran } from './figures.js';
import { orchestratorWith, prng, REGISTRY_PLUGINS, rejectsWith, sha256File } from './support.js';

/** Body timeout of the registry transport in these tests (config transports.docker.timeoutMs). */
const BODY_TIMEOUT_MS = 1000;

describe('network faults: the disk is byte-identical or the code is documented, and nothing unverified is kept', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disk: PublishedDisk;
  let fake: FakeRegistry;
  let n = 0;

  before(async () => {
    tmp = await tempDir('ocipull-faults-');
    disk = await machineOsFixture(tmp.dir);
    fake = await FakeRegistry.start({ layoutDir: disk.layout.layoutDir });
  });
  after(async () => {
    await fake.stop();
    await tmp.cleanup();
  });
  afterEach(() => fake.clearFaults());

  const source = () => `docker://${fake.addr}/podman/machine-os:5.5`;
  interface Run {
    result?: PullResult;
    error?: unknown;
    requests: FakeRequest[];
    faults: number;
    /** The transport's debug log: the retries it decided on, and why. */
    lines: string[];
    cache: string;
    outDir: string;
  }

  /** One pull into a fresh output directory (and, unless given, a fresh cache). */
  async function pull(cache = join(tmp.dir, `cache-${++n}`)): Promise<Run> {
    const outDir = join(tmp.dir, `out-${++n}`);
    await fsp.mkdir(outDir, { recursive: true });
    const lines: string[] = [];
    const orchestrator = await orchestratorWith(
      { cacheDir: cache, transport: { settings: { docker: { timeoutMs: BODY_TIMEOUT_MS } } } },
      REGISTRY_PLUGINS,
      createLogger('debug', (line) => lines.push(line)),
    );
    const firstRequest = fake.requests.length;
    const faultsBefore = fake.faultsServed + fake.restarts;
    const run: Run = { requests: [], faults: 0, lines, cache, outDir };
    try {
      run.result = await orchestrator.pull({ source: source(), output: join(outDir, 'disk.qcow2') });
    } catch (error) {
      run.error = error;
    }
    run.requests = fake.requests.slice(firstRequest);
    run.faults = fake.faultsServed + fake.restarts - faultsBefore;
    // Whatever happened, the cache shows only verified blobs.
    await verifyCache(cache);
    return run;
  }

  async function identical(run: Run): Promise<void> {
    assert.equal(run.error, undefined, String((run.error as Error)?.stack ?? run.error));
    assert.equal(await sha256File(join(run.outDir, 'disk.qcow2')), disk.qcow2Sha256, 'byte-identical');
    assert.deepEqual(await fsp.readdir(run.outDir), ['disk.qcow2'], 'no temp file beside the output');
    assert.ok((await verifyCache(run.cache)).includes(disk.blobDigest), 'the blob is cached');
  }

  async function failed(run: Run, code: ErrorCode): Promise<void> {
    await rejectsWith(Promise.reject(run.error), code);
    assert.deepEqual(await fsp.readdir(run.outDir), [], 'nothing at or beside the output path');
    assert.ok(!(await verifyCache(run.cache)).includes(disk.blobDigest), 'the blob is not cached');
  }

  const blobRequests = (run: Run) =>
    run.requests.filter((r) => r.kind === 'blob' && r.reference === disk.blobDigest);
  const rangeStart = (r: FakeRequest) =>
    Number(/^bytes=(\d+)-/.exec(String(r.headers.range ?? ''))?.[1] ?? 0);
  const isDiskBlob = (r: FakeRequest) => r.kind === 'blob' && r.reference === disk.blobDigest;

  it('fault.resets: four connection resets at seeded random offsets of one blob', async () => {
    const random = prng(20261123);
    let position = 0;
    const cuts: number[] = [];
    fake.script((req) => {
      if (!isDiskBlob(req) || cuts.length >= 4) return undefined;
      position = rangeStart(req);
      const remaining = disk.blobSize - position;
      const cut = 1 + Math.floor(random() * Math.min(remaining - 1, 2 << 20));
      cuts.push(position + cut);
      return { kind: 'reset', afterBytes: cut };
    });
    const run = await pull();
    await identical(run);
    const blobs = blobRequests(run);
    assert.equal(blobs.length, 5);
    // Each reconnect asked for the byte after the last one received (give or take what was in flight).
    for (let i = 1; i < blobs.length; i++)
      assert.ok(rangeStart(blobs[i]!) <= cuts[i - 1]!, `request ${i} resumes`);
    assert.ok(run.result!.bytesFetched >= disk.blobSize);
    ran('fault.resets', { faults: run.faults });
  });

  it('fault.429-retry-after: 429 with Retry-After: 1 on the manifest is waited out', async () => {
    fake.inject({
      match: 'manifest',
      fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } },
    });
    const run = await pull();
    await identical(run);
    const manifests = run.requests.filter((r) => r.kind === 'manifest' && r.reference === '5.5');
    assert.equal(manifests.length, 2, 'asked again after the 429');
    // The wait decided on is Retry-After's 1 s (the backoff alone would be far shorter).
    const retry = run.lines.filter((l) => l.includes('HTTP 429'));
    assert.equal(retry.length, 1, run.lines.join(''));
    assert.match(retry[0]!, /\(Retry-After 1 s\); retry 1\/\d+ in 1000 ms$/m);
    ran('fault.429-retry-after', { faults: run.faults });
  });

  it('fault.429-bare: two 429s without Retry-After on the blob', async () => {
    fake.inject({ match: isDiskBlob, times: 2, fault: { kind: 'status', status: 429 } });
    const run = await pull();
    await identical(run);
    assert.equal(blobRequests(run).length, 3);
    ran('fault.429-bare', { faults: run.faults });
  });

  it('fault.5xx-burst: 503 503 on the manifest, 502 502 503 on the blob', async () => {
    fake.inject({ match: 'manifest', times: 2, fault: { kind: 'status', status: 503 } });
    fake.inject({ match: isDiskBlob, times: 2, fault: { kind: 'status', status: 502 } });
    fake.inject({ match: isDiskBlob, times: 1, fault: { kind: 'status', status: 503 } });
    const run = await pull();
    await identical(run);
    ran('fault.5xx-burst', { faults: run.faults });
  });

  it('fault.5xx-exhausted: 503 for as long as the retries last', async () => {
    fake.inject({ match: 'manifest', times: 1000, fault: { kind: 'status', status: 503 } });
    const run = await pull();
    await failed(run, 'SERVER_ERROR');
    ran('fault.5xx-exhausted', { faults: run.faults });
  });

  it('fault.stall: the body stalls; the read timeout fires and the pull resumes', async () => {
    fake.inject({ match: isDiskBlob, fault: { kind: 'stall', afterBytes: 1 << 20 } });
    const run = await pull();
    await identical(run);
    const blobs = blobRequests(run);
    assert.equal(blobs.length, 2);
    assert.ok(rangeStart(blobs[1]!) > 0 && rangeStart(blobs[1]!) <= 1 << 20, 'resumed with Range');
    // It was the body timeout that ended the stalled read, and the pull retried once.
    const resumes = run.lines.filter((l) => l.includes('reconnecting at byte'));
    assert.equal(resumes.length, 1, run.lines.join(''));
    assert.match(
      resumes[0]!,
      /after 1048576 bytes: timed out: .*UND_ERR_BODY_TIMEOUT.*reconnecting at byte 1048576 /,
    );
    ran('fault.stall', { faults: run.faults });
  });

  it('fault.early-end: the body ends early (clean close) twice', async () => {
    const third = Math.floor(disk.blobSize / 3);
    fake.inject({ match: isDiskBlob, times: 2, fault: { kind: 'truncate', afterBytes: third } });
    const run = await pull();
    await identical(run);
    // Bytes still in flight when the close is seen may be dropped and fetched again: never more.
    const starts = blobRequests(run).map(rangeStart);
    assert.equal(starts.length, 3);
    assert.ok(
      starts[0] === 0 &&
        starts[1]! > 0 &&
        starts[1]! <= third &&
        starts[2]! > starts[1]! &&
        starts[2]! <= 2 * third,
      String(starts),
    );
    ran('fault.early-end', { faults: run.faults });
  });

  it('fault.flipped: one flipped byte is DIGEST_MISMATCH, nothing kept; the next pull is clean', async () => {
    fake.inject({ match: isDiskBlob, fault: { kind: 'wrongBytes' } });
    const run = await pull();
    await failed(run, 'DIGEST_MISMATCH');
    assert.deepEqual(await partials(run.cache), [], 'no partial of bad bytes is kept');
    const again = await pull(run.cache);
    await identical(again);
    assert.equal(again.result!.bytesFetched, disk.blobSize, 'downloaded afresh');
    ran('fault.flipped', { faults: run.faults + again.faults });
  });

  it('fault.manifest-flipped: a flipped byte in the tagged index, then in the disk manifest', async () => {
    const byTag = (r: FakeRequest) => r.kind === 'manifest' && r.reference === '5.5';
    const byDigest = (r: FakeRequest) => r.kind === 'manifest' && r.reference!.startsWith('sha256:');
    fake.inject({ match: byTag, fault: { kind: 'wrongBytes' } });
    const tagged = await pull();
    await failed(tagged, 'DIGEST_MISMATCH');
    fake.clearFaults();
    fake.inject({ match: byDigest, fault: { kind: 'wrongBytes' } });
    const nested = await pull();
    await failed(nested, 'DIGEST_MISMATCH');
    assert.equal(blobRequests(tagged).length + blobRequests(nested).length, 0, 'no blob was fetched');
    ran('fault.manifest-flipped', { faults: tagged.faults + nested.faults });
  });

  it('fault.redirect-chain: blob → storage → storage → storage → storage', async () => {
    fake.inject({ match: isDiskBlob, fault: { kind: 'redirect' } });
    fake.inject({ match: 'storage', times: 3, fault: { kind: 'redirect' } });
    const run = await pull();
    await identical(run);
    assert.equal(run.requests.filter((r) => r.kind === 'storage').length, 4);
    ran('fault.redirect-chain', { faults: run.faults });
  });

  it('fault.redirect-loop: endless redirects are cut off', async () => {
    fake.inject({ match: isDiskBlob, times: 1000, fault: { kind: 'redirect' } });
    fake.inject({ match: 'storage', times: 1000, fault: { kind: 'redirect' } });
    const run = await pull();
    await failed(run, 'UNEXPECTED_RESPONSE');
    ran('fault.redirect-loop', { faults: run.faults });
  });

  it('fault.restart: the registry restarts mid-blob (connections dropped, refused for 300 ms)', async () => {
    let restarted: Promise<void> | undefined;
    fake.script((req) => {
      if (!isDiskBlob(req) || restarted) return undefined;
      restarted = new Promise((resolve) => setTimeout(resolve, 100)).then(() => fake.restart(300));
      return { kind: 'stall', afterBytes: 1 << 20 } satisfies Fault;
    });
    const run = await pull();
    await restarted;
    await identical(run);
    assert.ok(rangeStart(blobRequests(run).at(-1)!) > 0, 'resumed with Range after the restart');
    ran('fault.restart', { faults: run.faults });
  });

  it('fault.resets-exhausted: resets until the retries run out keep the verified prefix; the next pull resumes', async () => {
    fake.inject({ match: isDiskBlob, fault: { kind: 'truncate', afterBytes: 1 << 20 } });
    fake.inject({ match: isDiskBlob, times: 1000, fault: { kind: 'reset', afterBytes: 0 } });
    const run = await pull();
    await failed(run, 'NETWORK');
    fake.clearFaults();
    const again = await pull(run.cache);
    await identical(again);
    // The verified prefix is kept; bytes still in the HTTP client's buffers when the connection
    // dropped may be lost with it (never more than a socket read), so the partial ends at or just
    // before the 1 MiB the server sent.
    const resumedFrom = again.result!.details?.resumedFrom as number;
    assert.ok(
      resumedFrom > (1 << 20) - (64 << 10) && resumedFrom <= 1 << 20,
      `the partial was reused (${resumedFrom})`,
    );
    assert.equal(again.result!.bytesFetched, disk.blobSize - resumedFrom, 'only the rest was fetched');
    ran('fault.resets-exhausted', { faults: run.faults });
  });
});

/** The cache's partials (the directory must be there: a missing one is not "nothing left"). */
async function partials(cache: string): Promise<string[]> {
  return fsp.readdir(join(cache, 'ocipull', 'partials', 'sha256'));
}
