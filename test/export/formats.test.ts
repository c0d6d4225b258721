/**
 * `pack --rootfs` through the real CLI: the Docker v2s2 manifest format (skopeo sees the Docker
 * media types and copies it back to the same tree), what is refused before anything is published
 * (zstd or annotations with v2s2, flags of another kind, a missing tree), and a tree pulled
 * rootless by the rootfs kind packed with the owners, modes and devices of its record.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger, Orchestrator, type Settings } from 'ocipull';
import { runCli } from '../support/cli.js';
import { useBuiltins } from '../support/files.js';
import { tempDir } from '../support/paths.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { listTree } from '../support/rootfs.js';
import { NODES_STEP, SAMPLE_STEPS, umociImage, umociUnpack } from '../support/umoci.js';
import { assertSameTree, inspect, packJson, pullBack } from './cli-helpers.js';

const DOCKER = {
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
};

describe('pack --rootfs: formats, refusals and rootless trees', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let registry: TestRegistry;
  let config: string;
  let cache: string;
  let layout: string;
  let tree: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-export-formats-'));
    registry = await startRegistry(join(dir, 'registry'));
    config = join(dir, 'ocipull.json');
    await fsp.writeFile(config, JSON.stringify({ preset: 'qemu' }));
    cache = join(dir, 'cache');
    layout = umociImage(join(dir, 'umoci'), [...SAMPLE_STEPS, NODES_STEP]);
    tree = umociUnpack(layout, join(dir, 'umoci-bundle'));
  });
  after(async () => {
    await registry?.stop();
    await cleanup();
  });

  test('--manifest-format v2s2: Docker media types for manifest, config and layer; copied back to the same tree', async () => {
    const ref = `${registry.addr}/export/docker:v1`;
    const result = await packJson(
      [`docker://${ref}`, '--rootfs', tree, '--manifest-format', 'v2s2', '--env', 'A=1'],
      config,
      cache,
    );
    const [image] = result.images;
    assert.equal(image?.manifestMediaType, DOCKER.manifest);
    const manifest = await inspect(`${registry.addr}/export/docker@${image!.manifestDigest}`, '--raw');
    assert.equal(manifest.mediaType, DOCKER.manifest);
    assert.equal(manifest.config.mediaType, DOCKER.config);
    assert.deepEqual(
      manifest.layers.map((l: { mediaType: string }) => l.mediaType),
      [DOCKER.layer],
    );
    const index = await inspect(ref, '--raw');
    assert.deepEqual(
      index.manifests.map((m: { mediaType: string; digest: string }) => [m.mediaType, m.digest]),
      [[DOCKER.manifest, image!.manifestDigest]],
    );
    const imageConfig = await inspect(ref, '--config');
    assert.deepEqual(imageConfig.rootfs.diff_ids, [image!.layers[0]!.diffId]);
    assert.deepEqual(imageConfig.config.Env, ['A=1']);
    const back = await pullBack(ref, dir, 'docker');
    await assertSameTree(back.rootfs, tree);
  });

  test('refused before anything is published, each with its code and what would be accepted', async () => {
    const dest = `docker://${registry.addr}/export/refused:v1`;
    const cases: { args: string[]; code: string; message: RegExp }[] = [
      {
        args: ['--rootfs', tree, '--manifest-format', 'v2s2', '--compress', 'zstd'],
        code: 'LAYER_CODEC_UNSUPPORTED',
        message: /v2s2 manifest cannot carry zstd layers/,
      },
      {
        args: ['--rootfs', tree, '--manifest-format', 'v2s2', '--annotation', 'a=b'],
        code: 'PACK_INPUT_INVALID',
        message: /v2s2 manifest has no annotations/,
      },
      {
        args: ['--rootfs', tree, '--manifest-format', 'docker'],
        code: 'PACK_INPUT_INVALID',
        message: /--manifest-format "docker" is not known/,
      },
      {
        args: ['--rootfs', join(dir, 'no-such-tree')],
        code: 'PACK_INPUT_INVALID',
        message: /is not a directory/,
      },
      {
        args: ['--rootfs', tree, '--kernel', join(dir, 'vmlinuz')],
        code: 'USAGE',
        message: /--kernel: the kernel kind's inputs, not the rootfs kind's/,
      },
      {
        args: ['--kind', 'kernel', '--kernel', join(dir, 'vmlinuz'), '--entrypoint', '/bin/sh'],
        code: 'USAGE',
        message: /--entrypoint: the rootfs kind's inputs, not the kernel kind's/,
      },
      {
        args: ['--kind', 'disk', '--rootfs', tree],
        code: 'USAGE',
        message: /--rootfs: the rootfs kind's inputs, not the disk kind's/,
      },
      {
        args: ['--kind', 'disk', '--cmd', 'x', '--disk', `qemu=${join(dir, 'disk.qcow2')}`],
        code: 'USAGE',
        message: /--cmd: the kernel and rootfs kinds' inputs, not the disk kind's/,
      },
      {
        args: ['--rootfs', tree, '--platform', 'linux'],
        code: 'IMAGE_CONFIG_INVALID',
        message: /is not OS\/ARCH\[\/VARIANT\]/,
      },
    ];
    for (const { args, code, message } of cases) {
      const result = await runCli(
        ['pack', dest, ...args, '--config', config, '--tls-verify=false', '--json'],
        {
          env: { XDG_CACHE_HOME: cache },
        },
      );
      assert.notEqual(result.code, 0, args.join(' '));
      const error = JSON.parse(result.stdout).error;
      assert.equal(error.code, code, `${args.join(' ')}: ${error.message}`);
      assert.match(error.message, message);
      assert.ok(error.hint, `${code} names what would be accepted`);
    }
    await assert.rejects(inspect(`${registry.addr}/export/refused:v1`, '--raw'));
  });

  test("a tree pulled rootless is packed with its record's owners, modes and devices", async () => {
    // The rootfs kind's own pull, not as root: the tree belongs to us, the record keeps the rest.
    const rootless = join(dir, 'rootless');
    const orchestrator = new Orchestrator({
      log: createLogger('silent'),
      settings: {
        kind: 'rootfs',
        cacheDir: cache,
        kinds: { rootfs: { asRoot: false } },
      } as Partial<Settings>,
    });
    await useBuiltins(orchestrator, ['oci-dir', 'kind-rootfs']);
    await orchestrator.pull({ source: `oci-dir:${layout}:test`, output: rootless });
    // The record beside the tree (a pull that leaves it under the staging name: moved there).
    const staged = (await fsp.readdir(dir)).find(
      (n) => n.startsWith('.rootless.') && n.endsWith('.rootfs-record.jsonl'),
    );
    if (staged) await fsp.rename(join(dir, staged), `${rootless}.rootfs-record.jsonl`);
    const record = await fsp.readFile(`${rootless}.rootfs-record.jsonl`, 'utf8');
    assert.match(record, /"path":"dev\/zero","type":"char"/);
    const onDisk = await listTree(rootless);
    assert.equal(onDisk.has('dev/zero'), false, 'the device is only in the record');
    assert.equal(onDisk.get('run')?.gid, 0, 'on disk the group is ours; the record says 7');

    const out = join(dir, 'rootless-layout');
    const result = await runCli(
      ['pack', `oci-dir:${out}:t`, '--rootfs', rootless, '--config', config, '--json'],
      { env: { XDG_CACHE_HOME: cache } },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /from its rootless record/);
    const back = umociUnpack(out, join(dir, 'rootless-back'), 't');
    await assertSameTree(back, tree);
    const zero = (await listTree(back)).get('dev/zero');
    assert.equal(zero?.type, 'char');
    assert.equal(zero?.gid, 6);
    assert.equal((await listTree(back)).get('run')?.gid, 7);
  });
});
