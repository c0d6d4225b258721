/**
 * `pack --rootfs DIR --base SOURCE` through the real CLI and the real registry (seen through a
 * transparent tap that records every request): a base made by umoci is pushed, a changed copy of
 * its tree is packed on it into another repository. The base's layers keep their digests and are
 * mounted, never uploaded; the one new layer is small and holds only the change (whiteouts, an
 * opaque directory, additions); umoci unpacks the result to DIR exactly.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tempDir } from '../support/paths.js';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.js';
import { RegistryTap } from '../support/registry-tap.js';
import { layoutLayers, NODES_STEP, SAMPLE_STEPS, umociImage, umociUnpack } from '../support/umoci.js';
import { assertSameTree, inspect, layoutBlob, packJson, pullBack } from './cli-helpers.js';
import { decompressed, listTar, run, sha256File } from './helpers.js';

const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

describe('pack --rootfs on a base, through the real registry', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let registry: TestRegistry;
  let tap: RegistryTap;
  let config: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-export-base-'));
    registry = await startRegistry(join(dir, 'registry'));
    tap = await RegistryTap.start(registry.addr);
    config = join(dir, 'ocipull.json');
    await fsp.writeFile(config, JSON.stringify({ preset: 'qemu' }));
  });
  after(async () => {
    await tap?.stop();
    await registry?.stop();
    await cleanup();
  });

  test('the base layers mounted with their digests, one small diff layer, the result unpacks to DIR', async () => {
    const layout = umociImage(join(dir, 'umoci'), [...SAMPLE_STEPS, NODES_STEP]);
    await pushLayout(layout, 'test', registry.addr, 'export/base');
    const baseLayers = await layoutLayers(layout);
    const baseDigests = baseLayers.layers.map((l) => `sha256:${l.path.split('/').pop()}`);

    // DIR: the base's tree changed (a directory gone, one emptied and refilled, a file changed, one added).
    const tree = umociUnpack(layout, join(dir, 'changed-bundle'));
    await fsp.rm(join(tree, 'usr/share'), { recursive: true });
    await fsp.rm(join(tree, 'etc/hosts/inner'));
    await fsp.writeFile(join(tree, 'etc/hosts/other'), 'other\n');
    await fsp.appendFile(join(tree, 'etc/passwd'), 'app:x:1000:1000\n');
    await fsp.writeFile(join(tree, 'etc/added'), 'added\n');
    await fsp.chown(join(tree, 'etc/added'), 1000, 1000);
    // Times apart from the base's (its steps ran seconds ago: the same second is no change).
    for (const path of ['etc/added', 'etc/hosts/other', 'etc/passwd', 'etc/hosts', 'etc', 'usr'])
      await fsp.utimes(join(tree, path), 1800000000, 1800000000);

    const temp = join(dir, 'tmp');
    await fsp.mkdir(temp);
    tap.requests.length = 0;
    const result = await packJson(
      [
        `docker://${tap.addr}/export/app:v1`,
        '--rootfs',
        tree,
        '--base',
        `docker://${tap.addr}/export/base:test`,
        '--cmd',
        '/bin/sh',
      ],
      config,
      join(dir, 'cache'),
      { TMPDIR: temp },
    );
    const [image] = result.images;
    assert.ok(image);
    assert.deepEqual(
      image.layers.slice(0, -1).map((l) => l.digest),
      baseDigests,
    );
    assert.deepEqual(
      image.layers.slice(0, -1).map((l) => l.diffId),
      (baseLayers.config.rootfs as { diff_ids: string[] }).diff_ids,
    );
    assert.equal(image.base, `docker://${tap.addr}/export/base:test`);
    assert.equal(result.blobs.mounted, baseDigests.length);

    // The registry saw a mount for each base layer and an upload for the new layer and config only.
    const app = tap.requests.filter((r) => r.path.startsWith('/v2/export/app/'));
    for (const digest of baseDigests) {
      const mount = app.find(
        (r) => r.method === 'POST' && r.path.includes(`mount=${encodeURIComponent(digest)}`),
      );
      assert.equal(mount?.status, 201, `mount of ${digest}`);
    }
    const uploads = app.filter((r) => r.method === 'PUT' && r.path.includes('/blobs/uploads/'));
    assert.equal(uploads.length, 2, uploads.map((r) => r.path).join('\n'));
    for (const digest of baseDigests) {
      assert.ok(!uploads.some((r) => r.path.includes(encodeURIComponent(digest))), `${digest} uploaded`);
    }

    // The new layer: small, and only the change.
    const diff = image.layers.at(-1)!;
    const baseBytes = (await Promise.all(baseLayers.layers.map((l) => fsp.stat(l.path)))).reduce(
      (sum, st) => sum + st.size,
      0,
    );
    assert.ok(diff.size < 4096, `the diff layer is ${diff.size} bytes (the base's ${baseBytes})`);
    const back = await pullBack(`${registry.addr}/export/app:v1`, dir, 'app');
    const tar = await decompressed(layoutBlob(back.layout, diff.digest), 'gzip');
    const names = (await listTar(tar)).map((e) => e.name.replace(/^\.\//, '').replace(/\/$/, ''));
    assert.deepEqual(
      names.filter((n) => n !== '' && n !== '.').sort(),
      [
        'etc',
        'etc/added',
        'etc/hosts',
        'etc/hosts/.wh..wh..opq',
        'etc/hosts/other',
        'etc/passwd',
        'usr',
        'usr/.wh.share',
      ].sort(),
    );
    const appConfig = await inspect(`${registry.addr}/export/app:v1`, '--config');
    assert.deepEqual(
      appConfig.rootfs.diff_ids,
      image.layers.map((l) => l.diffId),
    );
    assert.equal(appConfig.history.length, (baseLayers.config.history as unknown[]).length + 1);
    assert.deepEqual(appConfig.config.Cmd, ['/bin/sh']);

    await assertSameTree(back.rootfs, tree);
    // Nothing of the base's pulled tree or the staged layer is left behind.
    assert.deepEqual(await fsp.readdir(temp), []);
  });

  test('a base in an OCI layout, v2s2 into another layout: the base layers copied, relabelled, digests kept', async () => {
    const layout = umociImage(join(dir, 'umoci-v2'), SAMPLE_STEPS.slice(0, 2));
    const baseLayers = await layoutLayers(layout);
    const baseDigests = baseLayers.layers.map((l) => `sha256:${l.path.split('/').pop()}`);
    const tree = umociUnpack(layout, join(dir, 'v2-bundle'));
    await fsp.rm(join(tree, 'bin/sh'));
    await fsp.mkdir(join(tree, 'srv'));
    await fsp.writeFile(join(tree, 'srv/app'), 'app\n');
    for (const path of ['srv/app', 'srv', 'bin', '.'])
      await fsp.utimes(join(tree, path), 1800000000, 1800000000);

    const out = join(dir, 'v2-out');
    const result = await packJson(
      [
        `oci-dir:${out}:app`,
        '--rootfs',
        tree,
        '--base',
        `oci-dir:${layout}:test`,
        '--manifest-format',
        'v2s2',
      ],
      config,
      join(dir, 'cache'),
    );
    const [image] = result.images;
    assert.equal(result.blobs.mounted, 0);
    assert.deepEqual(
      image!.layers.map((l) => l.mediaType),
      [...baseDigests.map(() => DOCKER_LAYER), DOCKER_LAYER],
    );
    assert.deepEqual(
      image!.layers.slice(0, -1).map((l) => l.digest),
      baseDigests,
    );
    for (const digest of baseDigests) assert.equal(await sha256File(layoutBlob(out, digest)), digest);
    const manifest = JSON.parse(await fsp.readFile(layoutBlob(out, image!.manifestDigest), 'utf8'));
    assert.equal(manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(manifest.config.mediaType, 'application/vnd.docker.container.image.v1+json');

    const converted = join(dir, 'v2-converted');
    await run('skopeo', ['--insecure-policy', 'copy', `oci:${out}:app`, `oci:${converted}:t`]);
    await assertSameTree(umociUnpack(converted, join(dir, 'v2-back'), 't'), tree);
  });
});
