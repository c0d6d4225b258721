/**
 * A tree on a base: a base image made by the real umoci (init, new, unpack, repack twice), its
 * tree unpacked by umoci, a changed copy exported as one diff layer on the base's layers, and the
 * result unpacked by umoci again: it must be the changed tree exactly, with the base's layers
 * untouched and the diff layer holding only changes and whiteouts.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  buildConfig,
  buildManifest,
  type DiffLayer,
  diffLayer,
  treeLayer,
} from '../../plugins/tree-layer/api.js';
import { tempDir } from '../support/paths.js';
import {
  decompressed,
  listTar,
  makeRichTree,
  observeTree,
  observeXattrs,
  readLayoutImage,
  run,
  umociUnpack,
  writeLayoutImage,
} from './helpers.js';

/** Put `layer` on top of LAYOUT:base as LAYOUT:tag. */
async function stack(
  layout: string,
  tag: string,
  layer: DiffLayer | Awaited<ReturnType<typeof treeLayer>>,
  onBase: boolean,
) {
  const base = await readLayoutImage(layout, 'base');
  const config = buildConfig({
    base: onBase ? base.config : undefined,
    platform: onBase ? undefined : 'linux/amd64',
    layers: [{ diffId: layer.diffId, createdBy: 'ocipull test diff', comment: tag }],
    created: '2025-05-06T07:08:09Z',
  });
  const manifest = buildManifest({
    config,
    layers: [...(onBase ? base.manifest.layers : []), layer.descriptor],
  });
  await writeLayoutImage(layout, tag, {
    blobs: [{ path: layer.path, digest: layer.descriptor.digest }],
    config: config.bytes,
    manifest: manifest.bytes,
    manifestMediaType: manifest.mediaType,
  });
  return { base, config, manifest };
}

describe('a diff layer on a base made by umoci', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let layout: string;
  let baseTree: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-export-diff-'));
    layout = join(dir, 'layout');
    await run('umoci', ['init', '--layout', layout]);
    await run('umoci', ['new', '--image', `${layout}:base`]);
    const work = join(dir, 'work');
    await run('umoci', ['unpack', '--image', `${layout}:base`, work]);
    const rootfs = join(work, 'rootfs');
    await makeRichTree(rootfs, 7);
    await fsp.mkdir(join(rootfs, 'replaced/inner'), { recursive: true });
    for (const name of ['a', 'b', 'inner/c'])
      await fsp.writeFile(join(rootfs, 'replaced', name), `old ${name}\n`);
    await fsp.mkdir(join(rootfs, 'lib'));
    await fsp.writeFile(join(rootfs, 'lib/pair1'), 'linked\n');
    await fsp.link(join(rootfs, 'lib/pair1'), join(rootfs, 'lib/pair2'));
    await fsp.mkdir(join(rootfs, 'keepdir'));
    await fsp.writeFile(join(rootfs, 'keepdir/stays'), 'stays\n');
    await fsp.writeFile(join(rootfs, 'keepdir/goes'), 'goes\n');
    await fsp.mkdir(join(rootfs, 'was-dir/sub'), { recursive: true });
    await fsp.writeFile(join(rootfs, 'was-dir/sub/f'), 'f\n');
    await run('umoci', ['repack', '--refresh-bundle', '--image', `${layout}:base`, work]);
    // A second umoci layer, with umoci's own whiteout.
    await fsp.rm(join(rootfs, 'etc/dangling'));
    await fsp.writeFile(join(rootfs, 'second-layer'), 'from the second layer\n');
    await run('umoci', ['repack', '--image', `${layout}:base`, work]);
    baseTree = await umociUnpack(layout, 'base', join(dir, 'base-bundle'));
  });
  after(() => cleanup());

  test('the base is what umoci made: two layers of its own', async () => {
    const base = await readLayoutImage(layout, 'base');
    assert.equal(base.manifest.layers.length, 2);
    assert.equal(JSON.parse(base.config.toString()).rootfs.diff_ids.length, 2);
    await fsp.access(join(baseTree, 'second-layer'));
    await assert.rejects(fsp.lstat(join(baseTree, 'etc/dangling')));
  });

  test('a tree unpacked by umoci exports as one layer that umoci unpacks to the same tree', async () => {
    const layer = await treeLayer(baseTree, { compress: 'gzip' });
    try {
      await stack(layout, 'whole', layer, false);
      const rootfs = await umociUnpack(layout, 'whole', join(dir, 'whole-bundle'));
      assert.deepEqual(await observeTree(rootfs), await observeTree(baseTree));
      assert.deepEqual(await observeXattrs(rootfs), await observeXattrs(baseTree));
    } finally {
      await layer.cleanup();
    }
  });

  test('base layers + the diff layer unpack to the changed tree exactly; whiteouts, opaque, base digests kept', async () => {
    const tree = join(dir, 'changed');
    await run('cp', ['-a', baseTree, tree]);
    // added
    await fsp.mkdir(join(tree, 'new/dir'), { recursive: true });
    await fsp.writeFile(join(tree, 'new/dir/file.txt'), 'new\n');
    // content changed, same size and mtime (only the bytes tell)
    const release = join(tree, 'etc/os-release');
    const st = await fsp.stat(release);
    const old = await fsp.readFile(release);
    await fsp.writeFile(release, Buffer.from(old.toString().replace('SEED=7', 'SEED=8')));
    await fsp.utimes(release, st.atime, st.mtime);
    // mode changed
    await fsp.chmod(join(tree, 'etc/empty'), 0o600);
    // removed: the only file of a directory (which becomes opaque), a whole directory, one file of a directory whose mtime is put back
    await fsp.rm(join(tree, 'usr/lib/big.bin'));
    await fsp.rm(join(tree, 'deep'), { recursive: true });
    const keep = await fsp.stat(join(tree, 'keepdir'));
    await fsp.rm(join(tree, 'keepdir/goes'));
    await fsp.utimes(join(tree, 'keepdir'), keep.atime, keep.mtime);
    // a directory replaced wholesale: opaque
    await fsp.rm(join(tree, 'replaced'), { recursive: true });
    await fsp.mkdir(join(tree, 'replaced'));
    await fsp.writeFile(join(tree, 'replaced/fresh'), 'fresh\n');
    // type changes: symlink -> file, directory -> symlink
    await fsp.rm(join(tree, 'etc/alt'));
    await fsp.writeFile(join(tree, 'etc/alt'), 'now a file\n');
    await fsp.rm(join(tree, 'was-dir'), { recursive: true });
    await fsp.symlink('etc', join(tree, 'was-dir'));
    // a hardlink group broken: pair2 becomes its own file with the same bytes
    await fsp.rm(join(tree, 'lib/pair2'));
    await fsp.copyFile(join(tree, 'lib/pair1'), join(tree, 'lib/pair2'));
    // an xattr changed
    await run('setfattr', ['-n', 'user.comment', '-v', 'changed', release]);

    const layer = await diffLayer(baseTree, tree, { compress: 'zstd' });
    try {
      const { base, config, manifest } = await stack(layout, 'next', layer, true);
      // umoci 0.4 reads no zstd: skopeo turns the layers into gzip on the way (the diff ID stays).
      const copy = join(dir, 'next-gzip');
      await run('skopeo', [
        'copy',
        '--dest-compress-format',
        'gzip',
        `oci:${layout}:next`,
        `oci:${copy}:next`,
      ]);
      const rootfs = await umociUnpack(copy, 'next', join(dir, 'next-bundle'));
      assert.deepEqual(await observeTree(rootfs), await observeTree(tree));
      assert.deepEqual(await observeXattrs(rootfs), await observeXattrs(tree));

      const names = (await listTar(await decompressed(layer.path, 'zstd'))).map((e) =>
        e.name.replace(/\/$/, ''),
      );
      for (const whiteout of [
        '.wh.deep',
        'usr/lib/.wh..wh..opq',
        'keepdir/.wh.goes',
        'replaced/.wh..wh..opq',
      ]) {
        assert.ok(names.includes(whiteout), `${whiteout} in ${names.join(' ')}`);
      }
      assert.deepEqual(layer.opaque, ['replaced', 'usr/lib']);
      assert.deepEqual(layer.whiteouts.sort(), ['.wh.deep', 'keepdir/.wh.goes']);
      assert.ok(!names.some((n) => n.startsWith('replaced/.wh.') && n !== 'replaced/.wh..wh..opq'));
      assert.ok(
        !names.some((n) => n.startsWith('deep/') || n.startsWith('was-dir/')),
        'nothing under a removed directory',
      );
      for (const written of [
        'new/dir/file.txt',
        'etc/os-release',
        'etc/empty',
        'etc/alt',
        'was-dir',
        'lib/pair1',
        'lib/pair2',
        'replaced/fresh',
      ]) {
        assert.ok(names.includes(written), `${written} written`);
      }
      for (const unchanged of [
        'usr/bin/tool',
        'données-é.txt',
        'second-layer',
        'keepdir/stays',
        'keepdir',
        'dev/fifo',
      ]) {
        assert.ok(!names.includes(unchanged), `${unchanged} is unchanged and not in the layer`);
      }
      assert.ok(layer.tarSize < 64 * 1024, `the diff tar is small (${layer.tarSize} bytes)`);
      // The opaque marker precedes everything inside its directory.
      assert.equal(names.indexOf('replaced/.wh..wh..opq') + 1, names.indexOf('replaced/fresh'));

      // The base's layers are reused as they are; config and history extend the base's.
      assert.deepEqual(JSON.parse(manifest.bytes.toString()).layers.slice(0, 2), base.manifest.layers);
      const baseConfig = JSON.parse(base.config.toString());
      assert.deepEqual(config.config.rootfs.diff_ids, [...baseConfig.rootfs.diff_ids, layer.diffId]);
      assert.equal(config.config.history?.length, (baseConfig.history ?? []).length + 1);
      assert.equal(config.config.history?.at(-1)?.created_by, 'ocipull test diff');
      const inspected = JSON.parse(await run('skopeo', ['inspect', '--config', `oci:${layout}:next`]));
      assert.deepEqual(inspected.rootfs.diff_ids, config.config.rootfs.diff_ids);
      const unchangedBase = await readLayoutImage(layout, 'base');
      assert.deepEqual(unchangedBase.manifest.layers, base.manifest.layers);
    } finally {
      await layer.cleanup();
    }
  });

  test('a tree equal to the base gives an empty diff layer', async () => {
    const same = join(dir, 'same');
    await run('cp', ['-a', baseTree, same]);
    const layer = await diffLayer(baseTree, same, { compress: 'none' });
    try {
      assert.equal(layer.entries, 0);
      assert.deepEqual([layer.added, layer.changed, layer.whiteouts, layer.opaque], [0, 0, [], []]);
      assert.equal(layer.tarSize, 1024);
      await stack(layout, 'same', layer, true);
      const rootfs = await umociUnpack(layout, 'same', join(dir, 'same-bundle'));
      assert.deepEqual(await observeTree(rootfs), await observeTree(same));
    } finally {
      await layer.cleanup();
    }
  });
});
