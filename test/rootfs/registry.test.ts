/**
 * The rootfs kind end to end through the library (`createOrchestrator`, `kind: 'rootfs'`): the
 * sample image made by the real umoci, published with skopeo to the real registry as OCI, as
 * Docker v2s2 and with zstd layers, and read straight from its `oci:` layout, gzip and
 * uncompressed; every pulled tree is `umoci unpack`'s. A second image sharing the lower layers of
 * a cached one fetches only its own blobs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PullResult } from 'ocipull';
import { tempDir } from '../support/paths.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { diffShapes, listTree, pullRootfs, type Shape, shapeOf } from '../support/rootfs.js';
import {
  layoutLayers,
  SAMPLE_STEPS,
  skopeoCopy,
  skopeoRaw,
  umociImage,
  umociUnpack,
  uncompressedLayout,
} from '../support/umoci.js';

type Part = { role: string; digest: string; cacheHit: boolean };
const partsOf = (result: PullResult) => (result.details as { parts: Part[] }).parts;

describe('rootfs pulls from the registry and from oci: layouts, against umoci unpack', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  let layout: string;
  let expected: Map<string, Shape>;
  let registry: TestRegistry;
  let n = 0;

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-rootfs-registry-'));
    layout = umociImage(base, SAMPLE_STEPS, 'test', { 2: 'base' });
    expected = shapeOf(await listTree(umociUnpack(layout, join(base, 'umoci'))));
    registry = await startRegistry(join(base, 'registry'));
  });
  after(async () => {
    await registry?.stop();
    await cleanup();
  });

  /** Pull `source` into a fresh directory (a fresh cache unless `cacheDir`); the tree must be umoci's. */
  async function pullAndCompare(source: string, cacheDir?: string): Promise<PullResult> {
    const output = join(base, `out${n++}`);
    const result = await pullRootfs({
      source,
      output,
      cwd: base,
      cacheDir: cacheDir ?? join(base, `cache${n}`),
      options: { tlsVerify: false },
    });
    assert.equal(result.output, output);
    assert.equal(result.kind, 'rootfs');
    assert.deepEqual(diffShapes(shapeOf(await listTree(output)), expected), []);
    // Nothing but the tree beside it: no staging, no record (the pull runs as root).
    assert.deepEqual(
      (await readdir(base)).filter((name) => name.startsWith(`out${n - 1}`)),
      [`out${n - 1}`],
    );
    return result;
  }

  it('the sample image is what the comparison needs (so it compares something)', () => {
    assert.equal(expected.get('bin/tool')?.mode, 0o4755);
    assert.equal(expected.get('bin/tool')?.links, 'bin/tool etc/hl');
    assert.equal(expected.get('var/empty')?.target, '../tmp');
    assert.equal(expected.get('bin/etc-abs')?.type, 'directory');
    assert.equal(expected.has('etc/shadow'), false);
    assert.equal(expected.get('etc/hosts/inner')?.mtime, 1600000000);
  });

  it('straight from the oci: layout (gzip layers), the user.* xattr too', async () => {
    const result = await pullAndCompare(`oci:${layout}:test`);
    assert.equal((result.details as { layers: number }).layers, 3);
    const note = execFileSync(
      'getfattr',
      ['--absolute-names', '--only-values', '-n', 'user.note', join(result.output, 'bin', 'tool')],
      { encoding: 'utf8' },
    );
    assert.equal(note, 'hello');
  });

  it('from an oci: layout of uncompressed tar layers', async () => {
    const plain = await uncompressedLayout(layout, join(base, 'plain'));
    const { layers } = await layoutLayers(plain);
    assert.deepEqual(
      layers.map((l) => l.mediaType),
      Array(3).fill('application/vnd.oci.image.layer.v1.tar'),
    );
    await pullAndCompare(`oci:${plain}:test`);
  });

  for (const [name, repo, flags, layerType] of [
    ['OCI', 'oci', ['--format', 'oci'], 'application/vnd.oci.image.layer.v1.tar+gzip'],
    ['Docker v2s2', 'v2s2', ['--format', 'v2s2'], 'application/vnd.docker.image.rootfs.diff.tar.gzip'],
    [
      'OCI with zstd layers',
      'zstd',
      ['--format', 'oci', '--dest-compress-format', 'zstd'],
      'application/vnd.oci.image.layer.v1.tar+zstd',
    ],
  ] as const) {
    it(`from the registry, published by skopeo as ${name}`, async () => {
      const reference = `${registry.addr}/${repo}:1`;
      // zstd through a layout of its own: pushed straight, skopeo reuses the registry's gzip blobs of
      // the same layers (pushed by another case) instead of recompressing.
      if (repo === 'zstd') {
        const own = join(base, `skopeo-${repo}`);
        skopeoCopy(`oci:${layout}:test`, `oci:${own}:test`, ...flags);
        skopeoCopy(`oci:${own}:test`, `docker://${reference}`, '--preserve-digests');
      } else skopeoCopy(`oci:${layout}:test`, `docker://${reference}`, ...flags);
      const manifest = skopeoRaw(`docker://${reference}`) as { layers: { mediaType: string }[] };
      assert.deepEqual(
        manifest.layers.map((l) => l.mediaType),
        Array(3).fill(layerType),
      );
      const result = await pullAndCompare(`docker://${reference}`);
      assert.equal(result.cacheHit, false);
    });
  }

  it('from the registry, uncompressed layers as they are (skopeo --preserve-digests)', async () => {
    const plain = await uncompressedLayout(layout, join(base, 'plain-push'));
    const reference = `${registry.addr}/plain:1`;
    skopeoCopy(`oci:${plain}:test`, `docker://${reference}`, '--preserve-digests');
    const manifest = skopeoRaw(`docker://${reference}`) as { layers: { mediaType: string }[] };
    assert.equal(manifest.layers[0]?.mediaType, 'application/vnd.oci.image.layer.v1.tar');
    await pullAndCompare(`docker://${reference}`);
  });

  it('a second image sharing the lower layers of a cached one fetches only its own config and layer', async () => {
    const cacheDir = join(base, 'shared-cache');
    skopeoCopy(`oci:${layout}:base`, `docker://${registry.addr}/shared:base`, '--preserve-digests');
    skopeoCopy(`oci:${layout}:test`, `docker://${registry.addr}/shared:full`, '--preserve-digests');
    const lower = await layoutLayers(layout, 'base');
    const full = await layoutLayers(layout, 'test');
    assert.equal(lower.layers.length, 2);
    const sizeOf = async (path: string) => (await stat(path)).size;

    const first = await pullRootfs({
      source: `docker://${registry.addr}/shared:base`,
      output: join(base, 'shared-base'),
      cwd: base,
      cacheDir,
      options: { tlsVerify: false },
    });
    const manifestOf = (tag: string) =>
      skopeoRaw(`docker://${registry.addr}/shared:${tag}`) as {
        config: { size: number };
        layers: { digest: string; size: number }[];
      };
    const baseManifest = manifestOf('base');
    // A cold pull fetches the config and every layer (the manifest is a document, not counted).
    assert.equal(
      first.bytesFetched,
      baseManifest.config.size + baseManifest.layers.reduce((sum, l) => sum + l.size, 0),
    );

    const second = await pullAndCompare(`docker://${registry.addr}/shared:full`, cacheDir);
    const fullManifest = manifestOf('full');
    const own = fullManifest.layers[2]!;
    assert.equal(own.size, await sizeOf(full.layers[2]!.path));
    assert.equal(second.bytesFetched, fullManifest.config.size + own.size);
    assert.deepEqual(
      partsOf(second).map((p) => [p.role, p.cacheHit]),
      [
        ['config', false],
        ['layer', true],
        ['layer', true],
        ['layer', false],
      ],
    );
    assert.deepEqual(
      partsOf(second)
        .slice(1, 3)
        .map((p) => p.digest),
      baseManifest.layers.map((l) => l.digest),
    );
  });

  it('two pulls at once sharing layers, one cache: each shared layer is fetched once, both trees right', async () => {
    const cacheDir = join(base, 'concurrent-cache');
    skopeoCopy(`oci:${layout}:base`, `docker://${registry.addr}/both:base`, '--preserve-digests');
    skopeoCopy(`oci:${layout}:test`, `docker://${registry.addr}/both:full`, '--preserve-digests');
    const pull = (tag: string) =>
      pullRootfs({
        source: `docker://${registry.addr}/both:${tag}`,
        output: join(base, `both-${tag}`),
        cwd: base,
        cacheDir,
        options: { tlsVerify: false },
      });
    const [full, lower] = await Promise.all([pull('full'), pull('base')]);
    const blobs = (tag: string) => {
      const m = skopeoRaw(`docker://${registry.addr}/both:${tag}`) as {
        config: { digest: string; size: number };
        layers: { digest: string; size: number }[];
      };
      return [m.config, ...m.layers];
    };
    const unique = new Map([...blobs('full'), ...blobs('base')].map((b) => [b.digest, b.size]));
    assert.equal(unique.size, 5, 'two configs and three layers');
    assert.equal(
      full.bytesFetched + lower.bytesFetched,
      [...unique.values()].reduce((sum, size) => sum + size, 0),
    );
    assert.deepEqual(diffShapes(shapeOf(await listTree(join(base, 'both-full'))), expected), []);
    const lowerExpected = shapeOf(await listTree(umociUnpack(layout, join(base, 'umoci-base'), 'base')));
    assert.deepEqual(diffShapes(shapeOf(await listTree(join(base, 'both-base'))), lowerExpected), []);
  });

  it('a warm cache: the same pull again fetches nothing, every part a cache hit', async () => {
    const cacheDir = join(base, 'warm-cache');
    const source = `oci:${layout}:test`;
    await pullRootfs({ source, output: join(base, 'warm1'), cwd: base, cacheDir });
    const again = await pullRootfs({ source, output: join(base, 'warm2'), cwd: base, cacheDir });
    assert.equal(again.cacheHit, true);
    assert.equal(again.bytesFetched, 0);
    assert.deepEqual(
      partsOf(again).map((p) => p.cacheHit),
      [true, true, true, true],
    );
    assert.deepEqual(diffShapes(shapeOf(await listTree(join(base, 'warm2'))), expected), []);
  });
});
