/**
 * Layers download concurrently and are applied in order: while layer 0's body is held by the
 * fault-injecting fake registry, layers 1 and 2 are asked for (fetched into the cache ahead of
 * their turn); the tree, the bytes fetched and each part's cache facts are those of a cold pull.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PullResult } from 'ocipull';
import { FakeRegistry, type FakeRequest } from '../support/fake-registry.js';
import { tempDir } from '../support/paths.js';
import { pullRootfs, writeImageLayout } from '../support/rootfs.js';
import { tarOf } from '../support/tar.js';

type Part = { role: string; digest: string; cacheHit: boolean };
const partsOf = (result: PullResult) => (result.details as { parts: Part[] }).parts;

describe('a rootfs pull fetches its layers concurrently', () => {
  let base: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-rootfs-concurrent-'));
  });
  after(() => cleanup());

  const layer = (name: string, fill: number) =>
    tarOf([{ header: { name, type: 'file' }, content: Buffer.alloc(200_000, fill) }]);

  it('layers 1 and 2 are requested while layer 0 is held, then applied after it, in order', async () => {
    const layout = join(base, 'layout');
    const written = await writeImageLayout(layout, [
      { tar: await layer('a', 1), compress: 'gzip' },
      { tar: await layer('a', 2), compress: 'gzip' },
      { tar: await layer('b', 3), compress: 'none' },
    ]);
    const digests = written.blobs.map((path) => `sha256:${basename(path)}`);
    const served = await FakeRegistry.start({ layoutDir: layout });
    try {
      const asked = (digest: string) =>
        served.requests.some((r: FakeRequest) => r.kind === 'blob' && r.reference === digest);
      let release = () => {};
      const hold = new Promise<void>((resolve) => {
        release = resolve;
      });
      served.inject({
        match: (r: FakeRequest) => r.kind === 'blob' && r.reference === digests[0],
        fault: { kind: 'slow', chunkBytes: 16 * 1024, delayMs: 1, hold },
      });
      const pulling = pullRootfs({
        source: `docker://${served.addr}/image:test`,
        output: join(base, 'out'),
        cwd: base,
        options: { tlsVerify: false, concurrency: 3 },
      });
      // Released when the later layers were asked for, or after 20 s (the assertion below fails then).
      const deadline = Date.now() + 20_000;
      while (!(asked(digests[1]!) && asked(digests[2]!)) && Date.now() < deadline) await sleep(5);
      const bothAskedWhileHeld = asked(digests[1]!) && asked(digests[2]!);
      release();
      const result = await pulling;
      assert.ok(bothAskedWhileHeld, 'layers 1 and 2 were not requested while layer 0 was held');
      // Applied in order: layer 1's `a` replaced layer 0's.
      assert.deepEqual(await readFile(join(base, 'out', 'a')), Buffer.alloc(200_000, 2));
      assert.deepEqual(await readFile(join(base, 'out', 'b')), Buffer.alloc(200_000, 3));
      const manifest = JSON.parse(await readFile(written.manifest, 'utf8')) as {
        config: { size: number };
        layers: Array<{ size: number }>;
      };
      const total = manifest.config.size + manifest.layers.reduce((sum, l) => sum + l.size, 0);
      assert.equal(result.bytesFetched, total);
      assert.deepEqual(
        partsOf(result).map((p) => [p.role, p.cacheHit]),
        [
          ['config', false],
          ['layer', false],
          ['layer', false],
          ['layer', false],
        ],
      );
      // Each blob was fetched once (ahead of its turn), never again from the source.
      for (const digest of digests) {
        const gets = served.requests.filter(
          (r: FakeRequest) => r.kind === 'blob' && r.reference === digest && r.method === 'GET',
        );
        assert.equal(gets.length, 1, `${digest} fetched ${gets.length} times`);
      }
    } finally {
      await served.stop();
    }
  });
});
