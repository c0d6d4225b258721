/**
 * A tree as a layer: trees built here (every entry kind) exported by plugins/tree-layer, written
 * with their config and manifest into OCI layouts, unpacked by the real umoci and compared path by
 * path; determinism of the digests; diff IDs against the real gzip / zstd; skopeo's view.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, promises as fsp } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isOcipullError } from 'ocipull';
import tar from 'tar-stream';
import { buildConfig, buildManifest, type TreeLayer, treeLayer } from '../../plugins/tree-layer/api.js';
import { tempDir } from '../support/paths.js';
import {
  DEEP_DIR,
  decompressed,
  isRoot,
  LONG_NAME,
  listTar,
  makeRichTree,
  observeTree,
  observeXattrs,
  run,
  sha256File,
  umociUnpack,
  writeDirImage,
  writeLayoutImage,
} from './helpers.js';

/** Write `layer` as a one-layer image under `tag` of the layout `layout`. */
async function writeImage(layout: string, tag: string, layer: TreeLayer, format: 'oci' | 'v2s2' = 'oci') {
  const config = buildConfig({
    platform: 'linux/amd64',
    layers: [{ diffId: layer.diffId }],
    runtime: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/bin'] },
    created: '2024-01-02T03:04:05Z',
    format,
  });
  const manifest = buildManifest({ format, config, layers: [layer.descriptor] });
  await writeLayoutImage(layout, tag, {
    blobs: [{ path: layer.path, digest: layer.descriptor.digest }],
    config: config.bytes,
    manifest: manifest.bytes,
    manifestMediaType: manifest.mediaType,
  });
  return { config, manifest };
}

describe('a tree as an image layer', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let tree: string;
  const layers: Record<string, TreeLayer> = {};

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-export-'));
    tree = join(dir, 'tree');
    await makeRichTree(tree);
    for (const codec of ['gzip', 'zstd', 'none'] as const) {
      layers[codec] = await treeLayer(tree, { compress: codec, stagingDir: join(dir, 'staging') });
    }
  });
  after(async () => {
    for (const layer of Object.values(layers)) await layer.cleanup();
    await cleanup();
  });

  for (const codec of ['gzip', 'none'] as const) {
    test(`a ${codec} layer unpacked by umoci is the tree: paths, types, modes, owners, contents, links, hardlinks, mtimes, xattrs`, async () => {
      const layout = join(dir, `layout-${codec}`);
      await writeImage(layout, 'v1', layers[codec]!);
      const rootfs = await umociUnpack(layout, 'v1', join(dir, `bundle-${codec}`));
      const expected = await observeTree(tree);
      assert.deepEqual(await observeTree(rootfs), expected);
      assert.deepEqual(await observeXattrs(rootfs), await observeXattrs(tree));
      // The tree really has what the comparison is about.
      const byPath = new Map(expected.map((o) => [o.path, o]));
      assert.equal(byPath.get('usr/bin/tool')?.mode, '4755');
      assert.equal(byPath.get('tmp')?.mode, '1777');
      assert.equal(byPath.get('usr/bin/tool')?.hardlinks, 'a-first-link,usr/bin/tool-link');
      assert.equal(byPath.get('dev/fifo')?.type, 'fifo');
      assert.equal(byPath.get(`${DEEP_DIR}/${LONG_NAME}`)?.type, 'file');
      if (isRoot) {
        assert.equal(byPath.get('dev/zero')?.type, 'char');
        assert.equal(byPath.get('srv/far-owner')?.owner, '4000000:4000001');
      }
      assert.deepEqual((await observeXattrs(tree))['usr/lib/big.bin'], ['user.binary=0x00ff10fe']);
    });
  }

  test('a zstd layer copied by skopeo into an oci: layout as gzip unpacks to the tree', async () => {
    const layout = join(dir, 'layout-zstd');
    await writeImage(layout, 'v1', layers.zstd!);
    const copy = join(dir, 'layout-zstd-as-gzip');
    await run('skopeo', ['copy', '--dest-compress-format', 'gzip', `oci:${layout}:v1`, `oci:${copy}:v1`]);
    const index = JSON.parse(await fsp.readFile(join(copy, 'index.json'), 'utf8'));
    const manifest = JSON.parse(
      await fsp.readFile(join(copy, 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8'),
    );
    assert.equal(manifest.layers[0].mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.notEqual(manifest.layers[0].digest, layers.zstd!.descriptor.digest);
    const rootfs = await umociUnpack(copy, 'v1', join(dir, 'bundle-zstd'));
    assert.deepEqual(await observeTree(rootfs), await observeTree(tree));
    // skopeo recompressed the same tar: the diff ID is unchanged.
    const inspected = JSON.parse(await run('skopeo', ['inspect', '--config', `oci:${copy}:v1`]));
    assert.deepEqual(inspected.rootfs.diff_ids, [layers.zstd!.diffId]);
  });

  test('the diff ID is the sha256 of the uncompressed tar (real gzip / zstd), the digest that of the blob', async () => {
    const tars: Buffer[] = [];
    for (const codec of ['gzip', 'zstd', 'none'] as const) {
      const layer = layers[codec]!;
      const bytes = await decompressed(layer.path, codec);
      tars.push(bytes);
      assert.equal(layer.diffId, `sha256:${createHash('sha256').update(bytes).digest('hex')}`, codec);
      assert.equal(layer.tarSize, bytes.length);
      assert.equal(layer.descriptor.digest, await sha256File(layer.path));
      assert.equal(layer.descriptor.size, (await fsp.stat(layer.path)).size);
    }
    assert.ok(
      tars.every((t) => t.equals(tars[0]!)),
      'every codec wraps the same tar',
    );
    assert.equal(layers.none!.descriptor.digest, layers.none!.diffId);
    assert.equal(layers.gzip!.descriptor.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.equal(layers.zstd!.descriptor.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    assert.equal(layers.none!.descriptor.mediaType, 'application/vnd.oci.image.layer.v1.tar');
    const head = await fsp.readFile(layers.gzip!.path);
    assert.equal(head.readUInt32LE(4), 0, 'no gzip timestamp');
    assert.equal(head[3]! & 0x08, 0, 'no file name in the gzip header');
  });

  test('skopeo inspect --config shows the diff IDs of the layout written by code', async () => {
    const layout = join(dir, 'layout-inspect');
    await writeImage(layout, 'v1', layers.gzip!);
    const config = JSON.parse(await run('skopeo', ['inspect', '--config', `oci:${layout}:v1`]));
    assert.deepEqual(config.rootfs, { type: 'layers', diff_ids: [layers.gzip!.diffId] });
    assert.equal(config.history.length, 1);
    assert.deepEqual(config.config.Cmd, ['/bin/sh']);
    const raw = JSON.parse(await run('skopeo', ['inspect', `oci:${layout}:v1`]));
    assert.deepEqual(raw.Layers, [layers.gzip!.descriptor.digest]);
  });

  test('the tar lists entries sorted bytewise, hardlinks to the first path, PAX names, owners and xattrs', async () => {
    const entries = await listTar(await decompressed(layers.none!.path, 'none'));
    const names = entries.map((e) => e.name.replace(/\/$/, ''));
    assert.equal(names[0], '.');
    const rest = names.slice(1);
    const sorted = [...rest].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.deepEqual(rest, sorted);
    const get = (name: string) => entries.find((e) => e.name.replace(/\/$/, '') === name)!;
    assert.equal(get('a-first-link').type, 'file');
    assert.equal(get('usr/bin/tool').type, 'link');
    assert.equal(get('usr/bin/tool').linkname, 'a-first-link');
    assert.equal(get('usr/bin/tool-link').linkname, 'a-first-link');
    assert.equal(get(`${DEEP_DIR}/${LONG_NAME}`).pax?.path, `${DEEP_DIR}/${LONG_NAME}`);
    assert.equal(get('etc/os-release').pax?.['SCHILY.xattr.user.comment'], 'hello xattr');
    assert.equal(get('etc').pax?.['SCHILY.xattr.user.dir'], 'on a directory');
    if (isRoot) assert.equal(get('srv/far-owner').pax?.uid, '4000000');
    assert.equal(get('etc/long-link').pax?.linkpath, `../${DEEP_DIR}/${LONG_NAME}`);
    assert.ok(!names.some((n) => n.includes('PaxHeader')), 'PAX headers are not entries');
  });

  test('the same tree packs to the same digests every time, wherever it lies; atime changes nothing, an mtime does', async () => {
    const again = await treeLayer(tree, { compress: 'gzip' });
    const copy = join(dir, 'tree-copy');
    await run('cp', ['-a', tree, copy]);
    // cp -a keeps the hardlinks inside the copy, the owners (as root), modes, mtimes and xattrs.
    await fsp.utimes(join(copy, 'etc/os-release'), 42, (await fsp.stat(join(tree, 'etc/os-release'))).mtime);
    const elsewhere = await treeLayer(copy, { compress: 'gzip' });
    const zstdAgain = await treeLayer(copy, { compress: 'zstd' });
    const relativePath = await treeLayer(relative(process.cwd(), tree), { compress: 'gzip' });
    assert.equal(
      relativePath.descriptor.digest,
      layers.gzip!.descriptor.digest,
      'a relative path finds the xattrs too',
    );
    await relativePath.cleanup();
    try {
      assert.equal(again.descriptor.digest, layers.gzip!.descriptor.digest);
      assert.equal(elsewhere.descriptor.digest, layers.gzip!.descriptor.digest);
      assert.equal(elsewhere.diffId, layers.gzip!.diffId);
      assert.equal(zstdAgain.descriptor.digest, layers.zstd!.descriptor.digest);
    } finally {
      await Promise.all([again.cleanup(), elsewhere.cleanup(), zstdAgain.cleanup()]);
    }
    const st = await fsp.stat(join(copy, 'etc/empty'));
    await fsp.utimes(join(copy, 'etc/empty'), st.atime, new Date(st.mtime.getTime() + 1000));
    const touched = await treeLayer(copy, { compress: 'none' });
    try {
      assert.notEqual(touched.diffId, layers.none!.diffId);
    } finally {
      await touched.cleanup();
    }
  });

  test('a Docker v2s2 image with a gzip layer: matching media types, read by skopeo from a dir:, unpacked after a copy', async () => {
    const layer = layers.gzip!;
    const config = buildConfig({
      platform: 'linux/arm64/v8',
      layers: [{ diffId: layer.diffId }],
      created: '2024-01-02T03:04:05Z',
      format: 'v2s2',
    });
    const manifest = buildManifest({ format: 'v2s2', config, layers: [layer.descriptor] });
    assert.equal(manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(config.descriptor.mediaType, 'application/vnd.docker.container.image.v1+json');
    const parsed = JSON.parse(manifest.bytes.toString());
    assert.equal(parsed.config.mediaType, 'application/vnd.docker.container.image.v1+json');
    assert.equal(parsed.layers[0].mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    const image = join(dir, 'dir-v2s2');
    await writeDirImage(image, {
      blobs: [{ path: layer.path, digest: layer.descriptor.digest }],
      config: config.bytes,
      manifest: manifest.bytes,
      manifestMediaType: manifest.mediaType,
    });
    const inspected = JSON.parse(await run('skopeo', ['inspect', '--config', `dir:${image}`]));
    assert.deepEqual(inspected.rootfs.diff_ids, [layer.diffId]);
    assert.deepEqual([inspected.os, inspected.architecture, inspected.variant], ['linux', 'arm64', 'v8']);
    const raw = JSON.parse(await run('skopeo', ['inspect', '--raw', `dir:${image}`]));
    assert.equal(raw.mediaType, manifest.mediaType);
    const copy = join(dir, 'layout-v2s2-as-oci');
    await run('skopeo', ['copy', '--format', 'oci', `dir:${image}`, `oci:${copy}:v1`]);
    const rootfs = await umociUnpack(copy, 'v1', join(dir, 'bundle-v2s2'));
    assert.deepEqual(await observeTree(rootfs), await observeTree(tree));
  });
});

describe('tree layer inputs', () => {
  test('an owners record (rootless) sets owners, modes and stands in for devices', async () => {
    const { dir, cleanup } = await tempDir('ocipull-export-owners-');
    try {
      const tree = join(dir, 'tree');
      await fsp.mkdir(join(tree, 'dev'), { recursive: true });
      await fsp.writeFile(join(tree, 'dev/null'), '');
      await fsp.writeFile(join(tree, 'secret'), 'x');
      await fsp.mkdir(join(tree, 'home'));
      const seen: string[] = [];
      const layer = await treeLayer(tree, {
        compress: 'none',
        owners: (path) => {
          seen.push(path);
          if (path === 'secret') return { uid: 1000, gid: 1001, mode: 0o100600 };
          if (path === 'dev/null')
            return { uid: 0, gid: 0, mode: 0o666, device: { type: 'char', major: 1, minor: 3 } };
          if (path === 'home') return { uid: 1000, gid: 1000, mode: 0o2750 };
          return undefined;
        },
      });
      try {
        assert.deepEqual(seen.sort(), ['.', 'dev', 'dev/null', 'home', 'secret']);
        const extract = tar.extract();
        const headers: Record<
          string,
          {
            type?: string | null;
            mode?: number;
            uid?: number;
            gid?: number;
            devmajor?: number;
            devminor?: number;
          }
        > = {};
        const done = (async () => {
          for await (const entry of extract) {
            headers[entry.header.name] = entry.header;
            entry.resume();
          }
        })();
        extract.end(await fsp.readFile(layer.path));
        await done;
        assert.deepEqual(
          {
            type: headers['dev/null']?.type,
            mode: headers['dev/null']?.mode,
            major: headers['dev/null']?.devmajor,
            minor: headers['dev/null']?.devminor,
          },
          { type: 'character-device', mode: 0o666, major: 1, minor: 3 },
        );
        assert.deepEqual(
          [headers.secret?.uid, headers.secret?.gid, headers.secret?.mode],
          [1000, 1001, 0o600],
        );
        assert.deepEqual([headers['home/']?.uid, headers['home/']?.mode], [1000, 0o2750]);
        if (isRoot) {
          const layout = join(dir, 'layout');
          await writeImage(layout, 'v1', layer);
          const rootfs = await umociUnpack(layout, 'v1', join(dir, 'bundle'));
          const seenTree = new Map((await observeTree(rootfs)).map((o) => [o.path, o]));
          assert.equal(seenTree.get('dev/null')?.type, 'char');
          assert.equal(seenTree.get('secret')?.owner, '1000:1001');
          assert.equal(seenTree.get('secret')?.mode, '600');
        }
      } finally {
        await layer.cleanup();
      }
    } finally {
      await cleanup();
    }
  });

  const refusals: {
    name: string;
    code: string;
    make: (tree: string) => Promise<unknown>;
    options?: object;
  }[] = [
    { name: 'a missing directory', code: 'TREE_INPUT_INVALID', make: async () => {} },
    {
      name: 'a file named like a whiteout',
      code: 'TREE_INPUT_INVALID',
      make: async (tree) => {
        await fsp.mkdir(tree);
        await fsp.writeFile(join(tree, '.wh.gone'), '');
      },
    },
    {
      name: 'a name that is not UTF-8',
      code: 'TREE_INPUT_INVALID',
      make: async (tree) => {
        await fsp.mkdir(tree);
        await fsp.writeFile(Buffer.concat([Buffer.from(`${tree}/bad-`), Buffer.from([0xff, 0xfe])]), '');
      },
    },
    {
      name: 'zstd for a Docker v2s2 layer',
      code: 'LAYER_CODEC_UNSUPPORTED',
      make: (tree) => fsp.mkdir(tree),
      options: { compress: 'zstd', format: 'v2s2' },
    },
    {
      name: 'an unknown codec',
      code: 'LAYER_CODEC_UNSUPPORTED',
      make: (tree) => fsp.mkdir(tree),
      options: { compress: 'lz4' },
    },
  ];
  for (const refusal of refusals) {
    test(`refused: ${refusal.name} (${refusal.code}), nothing staged`, async () => {
      const { dir, cleanup } = await tempDir('ocipull-export-bad-');
      try {
        const tree = join(dir, 'tree');
        await refusal.make(tree);
        const staging = join(dir, 'staging');
        await fsp.mkdir(staging);
        await assert.rejects(
          treeLayer(tree, { stagingDir: staging, ...refusal.options }),
          (error) => isOcipullError(error) && error.code === refusal.code && /\S/.test(error.hint ?? ''),
        );
        assert.deepEqual(await fsp.readdir(staging), []);
      } finally {
        await cleanup();
      }
    });
  }

  test('an abort during the export stops it and leaves no staged blob', async () => {
    const { dir, cleanup } = await tempDir('ocipull-export-abort-');
    try {
      const tree = join(dir, 'tree');
      await fsp.mkdir(tree);
      await fsp.writeFile(join(tree, 'a'), 'a');
      await fsp.writeFile(join(tree, 'b'), 'b');
      const staging = join(dir, 'staging');
      const controller = new AbortController();
      await assert.rejects(
        treeLayer(tree, {
          stagingDir: staging,
          signal: controller.signal,
          owners: (path) => {
            if (path === 'b') controller.abort();
            return undefined;
          },
        }),
        (error) => (error as Error).name === 'AbortError',
      );
      assert.deepEqual(await fsp.readdir(staging).catch(() => []), []);
    } finally {
      await cleanup();
    }
  });

  test('a file that changes while it is exported fails the layer and leaves no staged blob', async () => {
    const { dir, cleanup } = await tempDir('ocipull-export-race-');
    try {
      const tree = join(dir, 'tree');
      await fsp.mkdir(tree);
      await fsp.writeFile(join(tree, 'grows'), 'short');
      const staging = join(dir, 'staging');
      await assert.rejects(
        treeLayer(tree, {
          stagingDir: staging,
          owners: (path) => {
            // Called after the file was listed: it grows before its bytes are read.
            if (path === 'grows') appendFileSync(join(tree, 'grows'), ' and longer');
            return undefined;
          },
        }),
        (error) =>
          isOcipullError(error, 'TREE_INPUT_INVALID') && /changed while it was exported/.test(error.message),
      );
      assert.deepEqual(await fsp.readdir(staging), []);
    } finally {
      await cleanup();
    }
  });
});
