/**
 * `ocipull pack DEST --rootfs DIR` through the real CLI: a rich tree made by the real umoci packed
 * to the real registry, copied back with skopeo into an `oci:` layout (zstd turned into gzip by
 * skopeo), unpacked by umoci and compared with the tree; diff IDs checked against the sha256 of
 * each uncompressed layer; the same tree packed twice gives the same digests; two platforms merge
 * into one index.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tempDir } from '../support/paths.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { NODES_STEP, SAMPLE_STEPS, umociImage, umociUnpack } from '../support/umoci.js';
import { assertSameTree, inspect, layoutBlob, packJson, pullBack } from './cli-helpers.js';
import { decompressed, run, sha256File } from './helpers.js';

describe('pack --rootfs through the CLI, to the real registry', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let registry: TestRegistry;
  let config: string;
  let cache: string;
  let tree: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-export-cli-'));
    registry = await startRegistry(join(dir, 'registry'));
    config = join(dir, 'ocipull.json');
    await fsp.writeFile(config, JSON.stringify({ preset: 'qemu' }));
    cache = join(dir, 'cache');
    const layout = umociImage(join(dir, 'umoci'), [...SAMPLE_STEPS, NODES_STEP]);
    tree = umociUnpack(layout, join(dir, 'umoci-bundle'));
  });
  after(async () => {
    await registry?.stop();
    await cleanup();
  });

  test("umoci's tree, gzip: packed twice to the same digests, runtime fields in the config, unpacked back to the same tree", async () => {
    const flags = [
      '--rootfs',
      tree,
      '--entrypoint',
      '/bin/tool',
      '--cmd',
      '-x',
      '--env',
      'PATH=/bin',
      '--workdir',
      '/tmp',
      '--user',
      '1000:1000',
      '--label',
      'org.example.a=b',
      '--annotation',
      'org.example.note=n',
    ];
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const first = await packJson([`docker://${registry.addr}/export/app:v1`, ...flags], config, cache, env);
    const again = await packJson([`docker://${registry.addr}/export/app:v2`, ...flags], config, cache, env);
    const [image] = first.images;
    assert.ok(image);
    assert.equal(image.layers.length, 1);
    assert.equal(image.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    // Reproducible: the same tree and time give the same layer, config and manifest.
    assert.deepEqual(again.images[0]!.layers, image.layers);
    assert.equal(again.images[0]!.config.digest, image.config.digest);
    assert.equal(again.images[0]!.manifestDigest, image.manifestDigest);
    assert.equal(again.blobs.pushed, 0, 'the second pack found every blob in the repository');

    const configJson = await inspect(`${registry.addr}/export/app:v1`, '--config');
    assert.deepEqual(configJson.rootfs.diff_ids, [image.layers[0]!.diffId]);
    assert.equal(configJson.created, '2023-11-14T22:13:20Z');
    assert.deepEqual(configJson.config.Entrypoint, ['/bin/tool']);
    assert.deepEqual(configJson.config.Cmd, ['-x']);
    assert.deepEqual(configJson.config.Env, ['PATH=/bin']);
    assert.equal(configJson.config.WorkingDir, '/tmp');
    assert.equal(configJson.config.User, '1000:1000');
    assert.deepEqual(configJson.config.Labels, { 'org.example.a': 'b' });
    assert.equal(configJson.history.length, 1);
    assert.equal(configJson.history[0].created_by, 'ocipull pack --rootfs');
    const manifest = await inspect(`${registry.addr}/export/app@${image.manifestDigest}`, '--raw');
    assert.deepEqual(manifest.annotations, { 'org.example.note': 'n' });

    const back = await pullBack(`${registry.addr}/export/app:v1`, dir, 'gzip');
    const blob = layoutBlob(back.layout, image.layers[0]!.digest);
    assert.equal(await sha256File(blob), image.layers[0]!.digest);
    const tar = join(dir, 'gzip-layer.tar');
    await fsp.writeFile(tar, await decompressed(blob, 'gzip'));
    assert.equal(await sha256File(tar), configJson.rootfs.diff_ids[0]);
    await assertSameTree(back.rootfs, tree);
  });

  test('zstd for two platforms: one index of two; skopeo turns the layers into gzip; the trees and diff IDs hold', async () => {
    const ref = `${registry.addr}/export/multi:v1`;
    const amd = await packJson(
      [`docker://${ref}`, '--rootfs', tree, '--compress', 'zstd', '--platform', 'linux/amd64'],
      config,
      cache,
    );
    const arm = await packJson(
      [`docker://${ref}`, '--rootfs', tree, '--compress', 'zstd', '--platform', 'linux/arm64/v8'],
      config,
      cache,
    );
    assert.equal(amd.images[0]!.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    // The same tree: the same layer whatever the platform; only the configs differ.
    assert.equal(arm.images[0]!.layers[0]!.digest, amd.images[0]!.layers[0]!.digest);
    assert.equal(arm.blobs.pushed, 1, 'the arm64 pack uploads its config only: the layer is there');
    const index = await inspect(ref, '--raw');
    assert.deepEqual(
      index.manifests.map((m: { platform: object; digest: string }) => [m.platform, m.digest]).sort(),
      [
        [{ os: 'linux', architecture: 'amd64' }, amd.images[0]!.manifestDigest],
        [{ os: 'linux', architecture: 'arm64', variant: 'v8' }, arm.images[0]!.manifestDigest],
      ].sort(),
    );
    const armConfig = await inspect(ref, '--config', '--override-arch', 'arm64', '--override-variant', 'v8');
    assert.equal(armConfig.architecture, 'arm64');
    assert.equal(armConfig.variant, 'v8');

    // As published (zstd): the diff ID is the sha256 of the decompressed layer.
    const kept = join(dir, 'as-published-layout');
    await run('skopeo', [
      '--insecure-policy',
      'copy',
      '--src-tls-verify=false',
      '--override-arch',
      'amd64',
      `docker://${ref}`,
      `oci:${kept}:t`,
    ]);
    const layer = amd.images[0]!.layers[0]!;
    const tar = join(dir, 'zstd-layer.tar');
    await fsp.writeFile(tar, await decompressed(layoutBlob(kept, layer.digest), 'zstd'));
    assert.equal(await sha256File(tar), layer.diffId);

    const back = await pullBack(ref, dir, 'zstd', [
      '--override-arch',
      'amd64',
      '--dest-compress',
      '--dest-compress-format',
      'gzip',
    ]);
    const manifest = JSON.parse(
      await fsp.readFile(
        layoutBlob(
          back.layout,
          JSON.parse(await fsp.readFile(join(back.layout, 'index.json'), 'utf8')).manifests[0].digest,
        ),
        'utf8',
      ),
    );
    assert.equal(manifest.layers[0].mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    await assertSameTree(back.rootfs, tree);
  });
});
