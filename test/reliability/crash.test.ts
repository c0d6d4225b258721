/**
 * The CLI killed with SIGKILL at named points of a pull (OCIPULL_TEST_PAUSE_AT, docs/cli.md) and
 * at seeded random moments: the next run completes byte-identical, reuses what was verified
 * (counted at the fake registry) and leaves no temp file beside the output or in the cache.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { machineOsFixture, type PublishedDisk } from '../registry/helpers.js';
import { FakeRegistry, type FakeRequest } from '../support/fake-registry.js';
import { cliPath, tempDir } from '../support/paths.js';
import { verifyCache } from './cache-check.js';
import { ran } from './figures.js';
import { exists, prng, sha256File } from './support.js';

interface Spawned {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

describe('crashes: SIGKILL at any point, then a run that completes and reuses what was verified', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disk: PublishedDisk;
  let fake: FakeRegistry;
  let config: string;
  let n = 0;

  before(async () => {
    tmp = await tempDir('ocipull-crash-');
    disk = await machineOsFixture(tmp.dir);
    fake = await FakeRegistry.start({ layoutDir: disk.layout.layoutDir });
    // A killed holder's cache lock goes stale after 1 s instead of 10.
    config = join(tmp.dir, 'ocipull.json');
    await fsp.writeFile(config, JSON.stringify({ cache: { lockStaleMs: 1000 } }));
  });
  after(async () => {
    await fake.stop();
    await tmp.cleanup();
  });
  afterEach(() => fake.clearFaults());

  const isDiskBlob = (r: FakeRequest) => r.kind === 'blob' && r.reference === disk.blobDigest;
  const rangeStart = (r: FakeRequest) =>
    Number(/^bytes=(\d+)-/.exec(String(r.headers.range ?? ''))?.[1] ?? 0);

  /** Run a pull; `when` says when to SIGKILL it: at a pause point, after some ms, or never. */
  function pull(
    cache: string,
    output: string,
    when: { at?: string; afterBlobMs?: number } = {},
  ): Promise<Spawned & { requests: FakeRequest[]; kills: number }> {
    const first = fake.requests.length;
    let sent = 0;
    const kill = (child: { kill(signal: NodeJS.Signals): boolean }) => {
      if (child.kill('SIGKILL')) sent++;
    };
    return new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          cliPath,
          'pull',
          `docker://${fake.addr}/podman/machine-os:5.5`,
          '--config',
          config,
          '--preset',
          'qemu',
          '--arch',
          'x86_64',
          '--tls-verify=false',
          '--cache-dir',
          cache,
          '-o',
          output,
          '--replace',
          '--json',
        ],
        {
          env: { ...process.env, NO_COLOR: '1', ...(when.at ? { OCIPULL_TEST_PAUSE_AT: when.at } : {}) },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        if (when.at && sent === 0 && stderr.includes(`test pause at ${when.at}`)) kill(child);
      });
      // SIGKILL `afterBlobMs` after this run's blob request reached the registry.
      let timer: NodeJS.Timeout | undefined;
      const watch =
        when.afterBlobMs === undefined
          ? undefined
          : setInterval(() => {
              if (!fake.requests.slice(first).some(isDiskBlob)) return;
              clearInterval(watch);
              timer = setTimeout(() => kill(child), when.afterBlobMs);
            }, 10);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearInterval(watch);
        clearTimeout(timer);
        // A kill counts when this test sent it and the run died of it.
        const kills = sent > 0 && signal === 'SIGKILL' ? 1 : 0;
        resolve({ code, signal, stdout, stderr, requests: fake.requests.slice(first), kills });
      });
    });
  }

  /** Nothing but the finished disk (or nothing at all) beside the output. */
  async function besideOutput(dir: string): Promise<string[]> {
    return (await fsp.readdir(dir)).sort();
  }

  /** The cache's partials (the directory must be there: a missing one is not "nothing left"). */
  async function partials(cache: string): Promise<string[]> {
    return fsp.readdir(join(cache, 'ocipull', 'partials', 'sha256'));
  }

  /** A completed run: byte-identical, alone in its directory, cache verified and without partials. */
  async function completed(
    run: Spawned,
    cache: string,
    output: string,
  ): Promise<{ cacheHit: boolean; bytesFetched: number }> {
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await sha256File(output), disk.qcow2Sha256, 'byte-identical');
    assert.deepEqual(
      await besideOutput(join(output, '..')),
      ['disk.qcow2'],
      'no temp file beside the output',
    );
    assert.ok((await verifyCache(cache)).includes(disk.blobDigest));
    assert.deepEqual(await partials(cache), [], 'no partial left in the cache');
    const locks = await fsp.readdir(join(cache, 'ocipull', 'locks', 'sha256'));
    assert.deepEqual(locks, [], 'no lock left in the cache');
    return JSON.parse(run.stdout) as { cacheHit: boolean; bytesFetched: number };
  }

  async function killedAt(
    point: string,
    cache: string,
    output: string,
  ): Promise<Spawned & { requests: FakeRequest[]; kills: number }> {
    const run = await pull(cache, output, { at: point });
    assert.equal(run.signal, 'SIGKILL', `killed at ${point}: ${run.stderr}`);
    assert.equal(await exists(output), false, 'no output after the kill');
    await verifyCache(cache);
    return run;
  }

  const fresh = async () => {
    const dir = join(tmp.dir, `case-${++n}`);
    await fsp.mkdir(join(dir, 'out'), { recursive: true });
    return { cache: join(dir, 'cache'), output: join(dir, 'out', 'disk.qcow2') };
  };

  it('crash.manifest: killed while a manifest is being fetched', async () => {
    const { cache, output } = await fresh();
    const killed = await killedAt('manifest', cache, output);
    const again = await pull(cache, output);
    await completed(again, cache, output);
    ran('crash.manifest', { kills: killed.kills + again.kills });
  });

  it('crash.blob: killed mid-blob; the next run fetches only the rest', async () => {
    const { cache, output } = await fresh();
    const killed = await killedAt('blob', cache, output);
    assert.ok((await partials(cache)).length > 0, 'a partial was left');
    assert.ok(
      (await besideOutput(join(output, '..'))).every((f) => f.endsWith('.ocipull-tmp')),
      'only a temp file of the killed run',
    );
    const again = await pull(cache, output);
    const result = await completed(again, cache, output);
    const resumedAt = rangeStart(again.requests.find(isDiskBlob)!);
    assert.ok(resumedAt >= disk.blobSize / 2, `resumed at ${resumedAt} of ${disk.blobSize}`);
    assert.equal(result.bytesFetched, disk.blobSize - resumedAt, 'only the rest was fetched');
    assert.equal(killed.requests.filter(isDiskBlob).length, 1);
    ran('crash.blob', { kills: killed.kills + again.kills });
  });

  it('crash.decompress: killed mid-decompression from the cache; the next run needs no blob byte', async () => {
    const { cache, output } = await fresh();
    await completed(await pull(cache, output), cache, output);
    await fsp.rm(output);
    const killed = await killedAt('decompress', cache, output);
    const again = await pull(cache, output);
    const result = await completed(again, cache, output);
    assert.equal(result.cacheHit, true);
    assert.equal(result.bytesFetched, 0);
    assert.equal(again.requests.filter(isDiskBlob).length, 0, 'no blob request');
    ran('crash.decompress', { kills: killed.kills + again.kills });
  });

  it('crash.commit: killed between the cache commit and the output rename', async () => {
    const { cache, output } = await fresh();
    const killed = await killedAt('commit', cache, output);
    assert.ok((await verifyCache(cache)).includes(disk.blobDigest), 'the verified blob was committed');
    const again = await pull(cache, output);
    const result = await completed(again, cache, output);
    assert.equal(result.cacheHit, true);
    assert.equal(again.requests.filter(isDiskBlob).length, 0, 'no blob request');
    ran('crash.commit', { kills: killed.kills + again.kills });
  });

  it('crash.random: six kills at seeded random moments of slow blob transfers into one cache, then a clean run', async () => {
    const { cache, output } = await fresh();
    const random = prng(7);
    // ~10 s for the whole blob: no run gets to finish before its kill.
    fake.script((req) => (isDiskBlob(req) ? { kind: 'slow', chunkBytes: 32 << 10, delayMs: 50 } : undefined));
    let kills = 0;
    for (let i = 0; i < 6; i++) {
      const run = await pull(cache, output, { afterBlobMs: Math.floor(random() * 1500) });
      kills += run.kills;
      if (run.kills === 0) assert.equal(run.code, 0, run.stderr);
      // Whenever it died, the output is absent or complete, and the cache verifies.
      if (await exists(output)) assert.equal(await sha256File(output), disk.qcow2Sha256);
      await verifyCache(cache);
    }
    fake.clearFaults();
    const last = await pull(cache, output);
    const result = await completed(last, cache, output);
    const resumedAt = rangeStart(last.requests.find(isDiskBlob)!);
    assert.ok(resumedAt > 0, 'the final run resumed from what the killed ones verified');
    assert.equal(result.bytesFetched, disk.blobSize - resumedAt);
    ran('crash.random', { kills: kills + last.kills });
  });
});
