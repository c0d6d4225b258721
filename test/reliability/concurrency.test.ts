/**
 * Concurrent CLI pulls into one cache, with `ocipull cache prune` running alongside: all succeed
 * byte-identical, each blob is downloaded once (counted at the fake registries), and
 * `ocipull cache ls` agrees with a re-hash of every cached blob. That the pulls really overlapped is
 * shown by ordering marks at the fakes (a shared counter, no clock): two images' downloads were in
 * flight at once, and other pulls looked up the tag while the one download was under way.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from '../support/cli.js';
import { compress, makeDisk } from '../support/disks.js';
import { FakeRegistry, type FakeRequest, overlapped } from '../support/fake-registry.js';
import { buildMachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';
import { verifyCache } from './cache-check.js';
import { ran } from './figures.js';
import { sha256File } from './support.js';

interface Image {
  fake: FakeRegistry;
  /** Resolves when this image's blob is first requested (since the last `pair()`). */
  arrived: Promise<void>;
  arrive: () => void;
  blobDigest: string;
  qcow2Sha256: string;
}

describe('concurrency: pulls into one cache at once, with prune alongside', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  const images: Image[] = [];
  /** Whether the test pulls both images at once (their blob bodies wait for each other). */
  let paired = false;
  /** From now on, each image's blob body waits for the other image's blob to be requested. */
  function pair(): void {
    paired = true;
    for (const img of images) img.arrived = new Promise<void>((resolve) => (img.arrive = resolve));
  }
  let n = 0;

  async function image(seed: number): Promise<Image> {
    const dir = join(tmp.dir, `image-${seed}`);
    await fsp.mkdir(dir, { recursive: true });
    const qcow2 = await makeDisk(dir, { format: 'qcow2', sizeMiB: 64, dataMiB: 4, seed });
    const layout = await buildMachineOsLayout(join(dir, 'layout'), {
      tag: '5.5',
      nested: true,
      disks: [{ diskType: 'qemu', arch: 'x86_64', path: await compress(qcow2, 'zstd') }],
    });
    const fake = await FakeRegistry.start({ layoutDir: layout.layoutDir });
    const blobDigest = layout.disks[0]!.blobDigest;
    // Slow enough (~0.5 s) that the pulls overlap. With two images, each blob's body ends only
    // once the other blob was requested too (or after a bound, so a serialising bug fails the
    // overlap assertion instead of hanging).
    fake.script((req) => {
      if (req.kind !== 'blob' || req.reference !== blobDigest) return undefined;
      images.find((i) => i.blobDigest === blobDigest)?.arrive();
      const other = paired ? images.find((i) => i.blobDigest !== blobDigest)?.arrived : undefined;
      const hold = other && Promise.race([other, sleep(20_000, undefined, { ref: false })]);
      return { kind: 'slow', chunkBytes: 256 << 10, delayMs: 20, ...(hold ? { hold } : {}) };
    });
    return {
      fake,
      arrived: Promise.resolve(),
      arrive: () => {},
      blobDigest,
      qcow2Sha256: await sha256File(qcow2),
    };
  }

  before(async () => {
    tmp = await tempDir('ocipull-concurrency-');
    images.push(await image(31), await image(32));
  });
  after(async () => {
    await Promise.all(images.map((i) => i.fake.stop()));
    await tmp.cleanup();
  });

  const cacheArgs = (cache: string) => ['--cache-dir', cache];
  function pull(img: Image, cache: string) {
    const out = join(tmp.dir, `out-${++n}.qcow2`);
    const run = runCli(
      [
        'pull',
        `docker://${img.fake.addr}/podman/machine-os:5.5`,
        '--preset',
        'qemu',
        '--arch',
        'x86_64',
        '--tls-verify=false',
        ...cacheArgs(cache),
        '-o',
        out,
        '--json',
      ],
      { timeoutMs: 120_000 },
    );
    return run.then(async (r) => {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await sha256File(out), img.qcow2Sha256, 'byte-identical');
      return r;
    });
  }

  /** `cache prune` runs (after the given delays) while the pulls are in flight. */
  function prunes(cache: string, delays: number[], all: boolean) {
    return delays.map(async (ms) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      const r = await runCli(['cache', 'prune', ...(all ? ['--all'] : []), '--json', ...cacheArgs(cache)]);
      assert.equal(r.code, 0, r.stderr);
    });
  }

  /** `cache ls --json` and a re-hash of the cache agree. */
  async function consistent(cache: string): Promise<string[]> {
    const verified = await verifyCache(cache);
    const ls = await runCli(['cache', 'ls', '--json', ...cacheArgs(cache)]);
    assert.equal(ls.code, 0, ls.stderr);
    const listed = (JSON.parse(ls.stdout) as { entries: { digest: string; size: number }[] }).entries;
    for (const entry of listed) {
      assert.ok(verified.includes(entry.digest), `listed ${entry.digest} is present and verifies`);
      const [alg, hex] = entry.digest.split(':');
      assert.equal((await fsp.stat(join(cache, 'blobs', alg!, hex!))).size, entry.size);
    }
    const partials = await fsp.readdir(join(cache, 'ocipull', 'partials', 'sha256'));
    assert.deepEqual(partials, [], 'no partial left');
    return listed.map((e) => e.digest);
  }

  const blobGets = (img: Image, from: number): FakeRequest[] =>
    img.fake.requests.slice(from).filter((r) => r.kind === 'blob' && r.reference === img.blobDigest);
  const downloads = (img: Image, from: number) => blobGets(img, from).length;

  /** Pulls whose tag lookup reached the registry while `blob` was still being sent (one is the downloader). */
  const pullsDuring = (img: Image, from: number, blob: FakeRequest) =>
    img.fake.requests
      .slice(from)
      .filter((r) => r.kind === 'manifest' && r.reference === '5.5' && r.start < blob.end!).length;

  /** Whether some download of `a`'s blob and some download of `b`'s were in flight at once. */
  const downloadsOverlapped = (a: Image, fromA: number, b: Image, fromB: number) =>
    blobGets(a, fromA).some((x) => blobGets(b, fromB).some((y) => overlapped(x, y)));

  it('conc.same: 8 pulls of one image at once, 2 prunes alongside: one download', {
    timeout: 180_000,
  }, async () => {
    const cache = join(tmp.dir, 'cache-same');
    const [a] = images;
    const from = a!.fake.requests.length;
    const [pulls] = await Promise.all([
      Promise.all(Array.from({ length: 8 }, () => pull(a!, cache))),
      ...prunes(cache, [300, 900], false),
    ]);
    assert.equal(downloads(a!, from), 1, 'the blob was downloaded once');
    const during = pullsDuring(a!, from, blobGets(a!, from)[0]!);
    assert.ok(
      during >= 2,
      `another pull was under way while the blob was sent (${during} tag lookups before its end)`,
    );
    assert.ok((await consistent(cache)).includes(a!.blobDigest));
    ran('conc.same', { pulls: pulls.length, downloads: downloads(a!, from) });
  });

  it('conc.mixed: 4 + 4 pulls of two images at once, a prune alongside: one download each', {
    timeout: 180_000,
  }, async () => {
    const cache = join(tmp.dir, 'cache-mixed');
    pair();
    const [a, b] = images;
    const from = [a!.fake.requests.length, b!.fake.requests.length];
    const [pulls] = await Promise.all([
      Promise.all(Array.from({ length: 8 }, (_, i) => pull(i % 2 ? b! : a!, cache))),
      ...prunes(cache, [500], false),
    ]);
    assert.equal(downloads(a!, from[0]!), 1);
    assert.equal(downloads(b!, from[1]!), 1);
    assert.ok(
      downloadsOverlapped(a!, from[0]!, b!, from[1]!),
      'the two images were downloaded at the same time',
    );
    const listed = await consistent(cache);
    assert.ok(listed.includes(a!.blobDigest) && listed.includes(b!.blobDigest));
    ran('conc.mixed', { pulls: pulls.length, downloads: downloads(a!, from[0]!) + downloads(b!, from[1]!) });
  });

  it('conc.prune-all: 6 pulls of two images with 3 `cache prune --all` alongside: all succeed, the cache stays consistent', {
    timeout: 180_000,
  }, async () => {
    const cache = join(tmp.dir, 'cache-prune-all');
    pair();
    const [a, b] = images;
    const from = [a!.fake.requests.length, b!.fake.requests.length];
    const [pulls] = await Promise.all([
      Promise.all(Array.from({ length: 6 }, (_, i) => pull(i % 2 ? b! : a!, cache))),
      ...prunes(cache, [200, 700, 1400], true),
    ]);
    assert.ok(
      downloadsOverlapped(a!, from[0]!, b!, from[1]!),
      'the two images were downloaded at the same time',
    );
    await consistent(cache);
    ran('conc.prune-all', { pulls: pulls.length });
  });
});
