/**
 * Exported images through the real registry (Debian's docker-registry on 127.0.0.1): a base tree
 * and a diff layer on it pushed to two repositories with skopeo, inspected there, pulled back into
 * an `oci:` layout as gzip and unpacked by umoci; a Docker v2s2 image pushed from a `dir:`.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildConfig, buildManifest, diffLayer, treeLayer } from '../../plugins/tree-layer/api.js';
import { tempDir } from '../support/paths.js';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.js';
import { makeRichTree, observeTree, run, umociUnpack, writeDirImage, writeLayoutImage } from './helpers.js';

describe('exported images in a real registry', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let registry: TestRegistry;

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-export-registry-'));
    registry = await startRegistry(join(dir, 'registry'));
  });
  after(async () => {
    await registry?.stop();
    await cleanup();
  });

  test('a base image and a diff image on it: pushed, inspected, pulled back as gzip, unpacked to the trees', async () => {
    const baseTree = join(dir, 'base');
    await makeRichTree(baseTree, 3);
    const tree = join(dir, 'changed');
    await run('cp', ['-a', baseTree, tree]);
    await fsp.rm(join(tree, 'usr/lib'), { recursive: true });
    await fsp.writeFile(join(tree, 'etc/added'), 'added\n');

    const layout = join(dir, 'layout');
    const base = await treeLayer(baseTree, { compress: 'zstd' });
    const diff = await diffLayer(baseTree, tree, { compress: 'zstd' });
    try {
      const baseConfig = buildConfig({
        platform: 'linux/amd64',
        layers: [{ diffId: base.diffId }],
        created: '2024-01-01T00:00:00Z',
      });
      const baseManifest = buildManifest({ config: baseConfig, layers: [base.descriptor] });
      await writeLayoutImage(layout, 'base', {
        blobs: [{ path: base.path, digest: base.descriptor.digest }],
        config: baseConfig.bytes,
        manifest: baseManifest.bytes,
        manifestMediaType: baseManifest.mediaType,
      });
      const config = buildConfig({
        base: baseConfig.bytes,
        layers: [{ diffId: diff.diffId }],
        created: '2024-01-02T00:00:00Z',
      });
      const manifest = buildManifest({ config, layers: [base.descriptor, diff.descriptor] });
      await writeLayoutImage(layout, 'app', {
        blobs: [{ path: diff.path, digest: diff.descriptor.digest }],
        config: config.bytes,
        manifest: manifest.bytes,
        manifestMediaType: manifest.mediaType,
      });
      await pushLayout(layout, 'base', registry.addr, 'export/base');
      await pushLayout(layout, 'app', registry.addr, 'export/app');

      const inspect = async (repo: string, ...flags: string[]) =>
        JSON.parse(
          await run('skopeo', [
            'inspect',
            '--tls-verify=false',
            ...flags,
            `docker://${registry.addr}/${repo}`,
          ]),
        );
      const appConfig = await inspect('export/app:app', '--config');
      assert.deepEqual(appConfig.rootfs.diff_ids, [base.diffId, diff.diffId]);
      assert.equal(appConfig.history.length, 2);
      const [baseInfo, appInfo] = [await inspect('export/base:base'), await inspect('export/app:app')];
      assert.deepEqual(appInfo.Layers, [base.descriptor.digest, diff.descriptor.digest]);
      assert.equal(baseInfo.Layers[0], appInfo.Layers[0], 'the base layer keeps its digest');

      for (const [repo, expected] of [
        ['export/base:base', baseTree],
        ['export/app:app', tree],
      ] as const) {
        const pulled = join(dir, `pulled-${repo.replace(/[/:]/g, '-')}`);
        await run('skopeo', [
          'copy',
          '--src-tls-verify=false',
          '--dest-compress-format',
          'gzip',
          `docker://${registry.addr}/${repo}`,
          `oci:${pulled}:x`,
        ]);
        const rootfs = await umociUnpack(pulled, 'x', `${pulled}-bundle`);
        assert.deepEqual(await observeTree(rootfs), await observeTree(expected), repo);
      }
    } finally {
      await Promise.all([base.cleanup(), diff.cleanup()]);
    }
  });

  test('a Docker v2s2 image pushed from a dir: stays v2s2 with its diff ID', async () => {
    const tree = join(dir, 'v2s2-tree');
    await makeRichTree(tree, 4);
    const layer = await treeLayer(tree, { compress: 'gzip', format: 'v2s2' });
    try {
      assert.equal(layer.descriptor.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
      const config = buildConfig({
        format: 'v2s2',
        platform: 'linux/amd64',
        layers: [{ diffId: layer.diffId }],
      });
      const manifest = buildManifest({ format: 'v2s2', config, layers: [layer.descriptor] });
      const image = join(dir, 'dir-v2s2');
      await writeDirImage(image, {
        blobs: [{ path: layer.path, digest: layer.descriptor.digest }],
        config: config.bytes,
        manifest: manifest.bytes,
        manifestMediaType: manifest.mediaType,
      });
      const ref = `docker://${registry.addr}/export/v2s2:v1`;
      await run('skopeo', ['--insecure-policy', 'copy', '--dest-tls-verify=false', `dir:${image}`, ref]);
      const raw = JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', '--raw', ref]));
      assert.equal(raw.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
      assert.equal(raw.layers[0].digest, layer.descriptor.digest);
      const cfg = JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', '--config', ref]));
      assert.deepEqual(cfg.rootfs.diff_ids, [layer.diffId]);
    } finally {
      await layer.cleanup();
    }
  });
});
