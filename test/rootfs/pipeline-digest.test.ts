/**
 * Integrity through the rootfs pipeline: a layer whose uncompressed bytes are not the config's
 * diff_id, and a layer blob whose bytes are not its digest (edited in an `oci:` layout; flipped
 * in flight by the fault-injecting fake registry). Each is DIGEST_MISMATCH with nothing at the
 * output, no staging beside it, and nothing of the bad blob in the cache.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isOcipullError } from 'ocipull';
import { FakeRegistry, type FakeRequest } from '../support/fake-registry.js';
import { tempDir } from '../support/paths.js';
import { pullRootfs, writeImageLayout } from '../support/rootfs.js';
import { type TarEntry, tarOf } from '../support/tar.js';

const file = (name: string, data: string): TarEntry => ({
  header: { name, type: 'file' },
  content: Buffer.from(data),
});
const sha = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Every blob digest (hex) the cache holds, whole or partial. */
async function cached(cacheDir: string): Promise<string[]> {
  const names: string[] = [];
  for (const sub of ['blobs/sha256', 'ocipull/partials/sha256']) {
    names.push(...(await readdir(join(cacheDir, sub)).catch(() => [] as string[])));
  }
  return names.map((name) => name.replace(/\..*$/, ''));
}

describe('digests through the rootfs pipeline', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  let layers: Buffer[];
  let n = 0;

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-rootfs-digest-'));
    layers = [await tarOf([file('etc/one', 'one')]), await tarOf([file('etc/two', 'two'.repeat(1000))])];
  });
  after(() => cleanup());

  async function failingPull(source: string, cacheDir: string, options: Record<string, unknown> = {}) {
    const area = join(base, `area${n++}`);
    await mkdir(area);
    await assert.rejects(
      pullRootfs({ source, output: join(area, 'out'), cwd: base, cacheDir, options }),
      (e) => {
        assert.ok(isOcipullError(e, 'DIGEST_MISMATCH'), String(e));
        return true;
      },
    );
    assert.deepEqual(await readdir(area), [], 'nothing at the output, no staging');
  }

  it('a layer whose uncompressed bytes are not the diff_id: DIGEST_MISMATCH naming the diff_id', async () => {
    const wrong = sha(Buffer.from('something else'));
    const { layout, blobs } = await writeImageLayout(
      join(base, 'diffid'),
      layers.map((tar) => ({ tar })),
      {
        diffIds: [sha(layers[0]!), wrong],
      },
    );
    const cacheDir = join(base, 'cache-diffid');
    const area = join(base, `area${n++}`);
    await mkdir(area);
    await assert.rejects(
      pullRootfs({ source: `oci:${layout}:test`, output: join(area, 'out'), cwd: base, cacheDir }),
      (e) => {
        assert.ok(isOcipullError(e, 'DIGEST_MISMATCH'), String(e));
        assert.match((e as Error).message, new RegExp(`diff_id says ${wrong}`));
        return true;
      },
    );
    assert.deepEqual(await readdir(area), [], 'nothing at the output, no staging');
    const held = await cached(cacheDir);
    // The cache works (the good layer before it is there), and holds nothing of the bad one.
    assert.ok(held.includes(basename(blobs[0]!)), 'the good layer is cached');
    assert.ok(!held.includes(basename(blobs[1]!)), 'the layer that disagrees is not cached');
  });

  it('a layer blob edited in the oci: layout: DIGEST_MISMATCH, not cached', async () => {
    const { layout, blobs } = await writeImageLayout(
      join(base, 'edited'),
      layers.map((tar) => ({ tar })),
    );
    const bytes = await readFile(blobs[1]!);
    bytes[bytes.length - 5]! ^= 0xff;
    await writeFile(blobs[1]!, bytes);
    const cacheDir = join(base, 'cache-edited');
    await failingPull(`oci:${layout}:test`, cacheDir);
    const held = await cached(cacheDir);
    assert.ok(held.includes(basename(blobs[0]!)), 'the good layer is cached');
    assert.ok(!held.includes(basename(blobs[1]!)), 'the edited one is not');
  });

  it('a layer blob flipped in flight by the registry: DIGEST_MISMATCH, not cached; the next pull is clean', async () => {
    const { layout, blobs } = await writeImageLayout(
      join(base, 'served'),
      layers.map((tar) => ({ tar })),
    );
    const digest = `sha256:${basename(blobs[1]!)}`;
    const fake = await FakeRegistry.start({ layoutDir: layout });
    try {
      fake.inject({
        match: (r: FakeRequest) => r.kind === 'blob' && r.reference === digest,
        fault: { kind: 'wrongBytes' },
      });
      const cacheDir = join(base, 'cache-served');
      const source = `docker://${fake.addr}/image:test`;
      await failingPull(source, cacheDir, { tlsVerify: false });
      const held = await cached(cacheDir);
      assert.ok(held.includes(basename(blobs[0]!)), 'the good layer is cached');
      assert.ok(!held.includes(basename(blobs[1]!)), 'the flipped one is not');
      // The fault was once: the same pull again gets the right bytes.
      const output = join(base, `again${n++}`);
      const result = await pullRootfs({ source, output, cwd: base, cacheDir, options: { tlsVerify: false } });
      assert.equal(await readFile(join(output, 'etc', 'two'), 'utf8'), 'two'.repeat(1000));
      // Only the layer that failed is fetched again: the config and the good layer are cached.
      assert.equal(result.bytesFetched, (await readFile(blobs[1]!)).length);
    } finally {
      await fake.stop();
    }
  });
});
