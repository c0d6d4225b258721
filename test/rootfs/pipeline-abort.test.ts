/**
 * A rootfs pull interrupted (the caller's signal aborted as the CLI does on Ctrl-C) while a layer
 * is arriving: INTERRUPTED, nothing at the output, no staging beside it. The layer's
 * body is held by the fault-injecting fake registry until the abort, so the pull is mid-layer by
 * construction.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isOcipullError, OcipullError } from 'ocipull';
import { applyLayer } from '../../plugins/kind-rootfs/apply/apply.js';
import { FakeRegistry, type FakeRequest } from '../support/fake-registry.js';
import { tempDir } from '../support/paths.js';
import { pullRootfs, writeImageLayout } from '../support/rootfs.js';
import { tarOf } from '../support/tar.js';

describe('an interrupted rootfs pull', () => {
  let base: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-rootfs-abort-'));
  });
  after(() => cleanup());

  const layer = (name: string, fill: number) =>
    tarOf([{ header: { name, type: 'file' }, content: Buffer.alloc(300_000, fill) }]);

  const CASES = [
    { compress: 'none', plain: false },
    { compress: 'gzip', plain: false },
    { compress: 'none', plain: true },
  ] as const;
  for (const { compress, plain } of CASES) {
    const how = plain ? "a library caller's plain abort()" : 'the CLI';
    it(`aborted (as ${how} does) while its second layer (${compress}) arrives: INTERRUPTED, nothing left`, async () => {
      const layout = join(base, `layout-${compress}-${plain}`);
      const written = await writeImageLayout(layout, [
        { tar: await layer('a', 1), compress },
        { tar: await layer('b', 2), compress },
      ]);
      const served = await FakeRegistry.start({ layoutDir: layout });
      try {
        const digest = `sha256:${basename(written.blobs[1]!)}`;
        let release = () => {};
        const hold = new Promise<void>((resolve) => {
          release = resolve;
        });
        served.inject({
          match: (r: FakeRequest) => r.kind === 'blob' && r.reference === digest,
          fault: { kind: 'slow', chunkBytes: 16 * 1024, delayMs: 1, hold },
        });
        const area = join(base, `area-${compress}-${plain}`);
        await mkdir(area);
        const controller = new AbortController();
        const pulling = pullRootfs({
          source: `docker://${served.addr}/image:test`,
          output: join(area, 'out'),
          cwd: base,
          cacheDir: join(base, `cache-${compress}-${plain}`),
          options: { tlsVerify: false },
          signal: controller.signal,
        });
        // Mid-layer by construction: the held blob was asked for (its body cannot end).
        while (!served.requests.some((r) => r.reference === digest)) await sleep(5);
        // The CLI on SIGINT / SIGTERM (core/cli/main.ts) gives the reason INTERRUPTED; a library
        // caller may give none (a DOMException AbortError).
        if (plain) controller.abort();
        else controller.abort(new OcipullError('INTERRUPTED', 'interrupted by SIGINT'));
        await assert.rejects(pulling, (e) => {
          assert.ok(isOcipullError(e, 'INTERRUPTED'), `${(e as { code?: string }).code} ${String(e)}`);
          return true;
        });
        release();
        assert.deepEqual(await readdir(area), []);
      } finally {
        await served.stop();
      }
    });
  }

  it('applyLayer aborted by a plain AbortController mid-layer: INTERRUPTED', async () => {
    const tar = await layer('big', 3);
    const controller = new AbortController();
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The first 64 KiB of the layer, then nothing until the abort.
    const input = Readable.from(
      (async function* () {
        yield tar.subarray(0, 64 * 1024);
        await held;
        yield tar.subarray(64 * 1024);
      })(),
    );
    const root = join(base, 'applied');
    await mkdir(root);
    const applying = applyLayer(input, root, { signal: controller.signal });
    while ((await readdir(root)).length === 0) await sleep(5);
    controller.abort();
    release();
    await assert.rejects(applying, (e) => {
      assert.ok(isOcipullError(e, 'INTERRUPTED'), `${(e as { code?: string }).code} ${String(e)}`);
      return true;
    });
  });
});
