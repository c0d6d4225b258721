/**
 * The pack half of a toy artifact kind from outside the tree (test/support/bundle-kind-pack.ts,
 * importing only `ocipull`): two named files become a two-layer manifest (titles as annotations,
 * one layer zstd-compressed) under a real config blob, in an OCI layout and in a real registry.
 * What was published is read back independently (the layout with fs + node:crypto, the registry
 * with `skopeo inspect --raw` and its HTTP API, the zstd layer with the `zstd` tool); a second
 * pack for another platform is merged keeping the first, and --exit-on-conflict refuses.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createLogger,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  isOcipullError,
  Orchestrator,
  type PackRequest,
  runPack,
} from 'ocipull';
import BundlePackPlugin, {
  BUNDLE_ARTIFACT_TYPE,
  BUNDLE_CONFIG_TYPE,
  BUNDLE_FILE_TYPE,
  BUNDLE_FILE_ZSTD_TYPE,
} from '../support/bundle-kind-pack.js';
import { runCli } from '../support/cli.js';
import { run } from '../support/disks.js';
import { prngBytes, useBuiltins } from '../support/files.js';
import { sha256Digest, skopeoRaw } from '../support/independent.js';
import { repoRoot, tempDir } from '../support/paths.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

const TITLE = 'org.opencontainers.image.title';

/** A layout blob read with fs, its digest checked with node:crypto. */
async function layoutBlob(layout: string, digest: string): Promise<Buffer> {
  const bytes = await fsp.readFile(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)));
  assert.equal(sha256Digest(bytes), digest, `blob ${digest} holds what its name says`);
  return bytes;
}

/** The index a layout tag points at, read from index.json by hand. */
async function layoutTag(
  layout: string,
  tag: string,
): Promise<{ descriptor: Descriptor; index: ImageIndex }> {
  const top = JSON.parse(await fsp.readFile(join(layout, 'index.json'), 'utf8')) as ImageIndex;
  const descriptor = top.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  assert.ok(descriptor, `index.json lists ${tag}`);
  const bytes = await layoutBlob(layout, descriptor.digest);
  assert.equal(bytes.length, descriptor.size);
  return { descriptor, index: JSON.parse(bytes.toString('utf8')) as ImageIndex };
}

/** zstd -dc of `bytes`, by the real tool. */
async function unzstd(dir: string, bytes: Buffer): Promise<Buffer> {
  const packed = join(dir, `layer-${sha256Digest(bytes).slice(7, 19)}.zst`);
  await fsp.writeFile(packed, bytes);
  const out = `${packed}.out`;
  await run('zstd', ['-q', '-d', '-c', packed], out);
  return fsp.readFile(out);
}

describe('a bundle kind from outside the tree packs through the public API', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let registry: TestRegistry;
  let readme: string;
  let payload: string;
  let readmeBytes: Buffer;
  let payloadBytes: Buffer;

  const orchestrator = async (arch: string) =>
    (
      await useBuiltins(new Orchestrator({ log: createLogger('silent'), settings: { arch } }), [
        'oci-dir',
        'registry',
      ])
    ).use(new BundlePackPlugin());

  const bundle = (destination: string, extra: Partial<PackRequest> = {}): PackRequest => ({
    destination,
    kind: 'bundle',
    inputs: { file: [`readme.txt=${readme}`, `payload.bin=${payload}`], zstd: ['payload.bin'] },
    arch: 'x86_64',
    ...extra,
  });

  /** The manifest of `entry` and its parts, checked against `expected` file contents. */
  const checkBundle = async (
    read: (digest: string) => Promise<Buffer>,
    entry: Descriptor,
    files: { readme: Buffer; payload: Buffer },
  ) => {
    assert.equal(entry.artifactType, BUNDLE_ARTIFACT_TYPE);
    const manifestBytes = await read(entry.digest);
    assert.equal(manifestBytes.length, entry.size);
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as ImageManifest;
    assert.equal(manifest.artifactType, BUNDLE_ARTIFACT_TYPE);
    assert.equal(manifest.config.mediaType, BUNDLE_CONFIG_TYPE);
    const config = await read(manifest.config.digest);
    assert.equal(config.length, manifest.config.size);
    assert.deepEqual(JSON.parse(config.toString('utf8')).files, ['readme.txt', 'payload.bin']);
    assert.equal(manifest.layers.length, 2);
    const [first, second] = manifest.layers as [Descriptor, Descriptor];
    assert.deepEqual(
      manifest.layers.map((l) => [l.mediaType, l.annotations?.[TITLE]]),
      [
        [BUNDLE_FILE_TYPE, 'readme.txt'],
        [BUNDLE_FILE_ZSTD_TYPE, 'payload.bin'],
      ],
    );
    const firstBytes = await read(first.digest);
    assert.equal(firstBytes.length, first.size);
    assert.deepEqual(firstBytes, files.readme, 'the uncompressed layer is the file itself');
    const secondBytes = await read(second.digest);
    assert.equal(secondBytes.length, second.size);
    assert.deepEqual(secondBytes.subarray(0, 4), Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), 'a zstd frame');
    assert.ok(second.size < files.payload.length, 'compressed');
    assert.deepEqual(await unzstd(dir, secondBytes), files.payload, 'zstd -d gives the file back');
    return manifest;
  };

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-bundle-pack-'));
    registry = await startRegistry(join(dir, 'registry'));
    readme = join(dir, 'README');
    payload = join(dir, 'payload');
    readmeBytes = prngBytes(40_000, 7);
    // Compressible: runs of a few bytes with random ones between.
    payloadBytes = Buffer.concat(
      Array.from({ length: 64 }, (_, i) => Buffer.concat([Buffer.alloc(4096, i), prngBytes(512, 100 + i)])),
    );
    await fsp.writeFile(readme, readmeBytes);
    await fsp.writeFile(payload, payloadBytes);
  });
  after(async () => {
    await registry?.stop();
    await cleanup();
  });

  it('into an OCI layout: a two-layer manifest, titles, media types, a real config; merged per platform; --exit-on-conflict refuses', async () => {
    const layout = join(dir, 'layout');
    const result = await runPack(await orchestrator('x86_64'), bundle(`oci-dir:${layout}:v1`));
    assert.equal(result.kind, 'bundle');
    assert.deepEqual(result.disks, []);
    const read = (digest: string) => layoutBlob(layout, digest);
    const first = await layoutTag(layout, 'v1');
    assert.equal(first.descriptor.digest, result.indexDigest);
    assert.equal(first.index.manifests.length, 1);
    const [entry] = first.index.manifests as [Descriptor];
    assert.deepEqual(entry.platform, { architecture: 'x86_64', os: 'linux' });
    assert.equal(entry.digest, result.entries[0]?.manifestDigest);
    const manifest = await checkBundle(read, entry, { readme: readmeBytes, payload: payloadBytes });
    assert.deepEqual(
      result.entries[0]?.layers.map((l) => [l.digest, l.size]),
      manifest.layers.map((l) => [l.digest, l.size]),
      "pack's report agrees with the layout",
    );

    // Another platform, other bytes: merged beside the first, which is kept as it was.
    const armReadme = join(dir, 'README.arm');
    const armBytes = prngBytes(30_000, 8);
    await fsp.writeFile(armReadme, armBytes);
    const arm = await runPack(
      await orchestrator('x86_64'),
      bundle(`oci-dir:${layout}:v1`, {
        arch: 'arm64',
        inputs: { file: [`readme.txt=${armReadme}`, `payload.bin=${payload}`], zstd: ['payload.bin'] },
      }),
    );
    assert.equal(arm.kept, 1);
    assert.equal(arm.replaced, 0);
    const merged = await layoutTag(layout, 'v1');
    assert.equal(merged.descriptor.digest, arm.indexDigest);
    assert.deepEqual(
      merged.index.manifests.map((m) => [m.digest, m.platform?.architecture]),
      [
        [entry.digest, 'x86_64'],
        [arm.entries[0]?.manifestDigest, 'aarch64'],
      ],
    );
    await checkBundle(read, merged.index.manifests[1]!, { readme: armBytes, payload: payloadBytes });

    // The same platform again replaces its own entry in place and keeps the other.
    const again = await runPack(
      await orchestrator('x86_64'),
      bundle(`oci-dir:${layout}:v1`, {
        inputs: { file: [`readme.txt=${payload}`, `payload.bin=${readme}`], zstd: ['payload.bin'] },
      }),
    );
    assert.equal(again.replaced, 1);
    assert.equal(again.kept, 1);
    const replaced = await layoutTag(layout, 'v1');
    assert.deepEqual(
      replaced.index.manifests.map((m) => m.digest),
      [again.entries[0]?.manifestDigest, arm.entries[0]?.manifestDigest],
    );

    const before = await fsp.readFile(join(layout, 'index.json'));
    await assert.rejects(
      runPack(await orchestrator('x86_64'), bundle(`oci-dir:${layout}:v1`, { strategy: 'exit-on-conflict' })),
      (error) => {
        assert.ok(isOcipullError(error, 'TAG_CONFLICT'), String(error));
        assert.match(error.message, /already exists/);
        return true;
      },
    );
    assert.deepEqual(await fsp.readFile(join(layout, 'index.json')), before, 'the tag is left alone');
  });

  it('into a real registry: skopeo inspect --raw sees the index and the manifest; blobs as pushed', async () => {
    const ref = `docker://${registry.addr}/toys/bundle:v1`;
    const result = await runPack(await orchestrator('x86_64'), {
      ...bundle(ref),
      transport: { tlsVerify: false },
    });
    const indexBytes = await skopeoRaw(ref);
    assert.equal(sha256Digest(indexBytes), result.indexDigest);
    const index = JSON.parse(indexBytes.toString('utf8')) as ImageIndex;
    assert.equal(index.manifests.length, 1);
    assert.deepEqual(index.manifests[0]?.platform, { architecture: 'x86_64', os: 'linux' });
    const repo = `docker://${registry.addr}/toys/bundle`;
    const read = async (digest: string): Promise<Buffer> => {
      if (digest === index.manifests[0]?.digest) {
        const bytes = await skopeoRaw(`${repo}@${digest}`);
        assert.equal(sha256Digest(bytes), digest);
        return bytes;
      }
      const response = await fetch(`http://${registry.addr}/v2/toys/bundle/blobs/${digest}`);
      assert.equal(response.status, 200, `blob ${digest}`);
      const bytes = Buffer.from(await response.arrayBuffer());
      assert.equal(sha256Digest(bytes), digest);
      return bytes;
    };
    await checkBundle(read, index.manifests[0]!, { readme: readmeBytes, payload: payloadBytes });

    // An aarch64 bundle merged in keeps the x86_64 one; --exit-on-conflict refuses.
    const arm = await runPack(await orchestrator('x86_64'), {
      ...bundle(ref, { arch: 'aarch64' }),
      transport: { tlsVerify: false },
    });
    assert.equal(arm.kept, 1);
    const merged = JSON.parse((await skopeoRaw(ref)).toString('utf8')) as ImageIndex;
    assert.deepEqual(
      merged.manifests.map((m) => m.platform?.architecture),
      ['x86_64', 'aarch64'],
    );
    assert.equal(merged.manifests[0]?.digest, index.manifests[0]?.digest);
    await assert.rejects(
      runPack(await orchestrator('x86_64'), {
        ...bundle(ref, { strategy: 'exit-on-conflict' }),
        transport: { tlsVerify: false },
      }),
      (error) => isOcipullError(error, 'TAG_CONFLICT'),
    );
    assert.equal(sha256Digest(await skopeoRaw(ref)), arm.indexDigest, 'the tag is left alone');
  });

  it('through the CLI: a config file names the plugin by path, pack --kind bundle --input ...', async () => {
    const plugin = join(repoRoot, 'dist', 'test', 'support', 'bundle-kind-pack.js');
    const config = join(dir, 'bundle.json');
    await fsp.writeFile(config, JSON.stringify({ preset: 'qemu', plugins: [plugin] }));
    const layout = join(dir, 'cli-layout');
    const args = [
      'pack',
      `oci-dir:${layout}:cli`,
      '--config',
      config,
      '--kind',
      'bundle',
      '--arch',
      'x86_64',
      '--input',
      `file=readme.txt=${readme}`,
      '--input',
      `file=payload.bin=${payload}`,
      '--input',
      'zstd=payload.bin',
    ];
    const result = await runCli([...args, '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { kind: string; indexDigest: string; bundles: unknown };
    assert.equal(report.kind, 'bundle');
    assert.deepEqual(report.bundles, [{ files: ['readme.txt', 'payload.bin'] }]);
    const tagged = await layoutTag(layout, 'cli');
    assert.equal(tagged.descriptor.digest, report.indexDigest);
    await checkBundle((d) => layoutBlob(layout, d), tagged.index.manifests[0]!, {
      readme: readmeBytes,
      payload: payloadBytes,
    });

    const conflict = await runCli([...args, '--exit-on-conflict']);
    assert.equal(conflict.code, 8, conflict.stderr);
    assert.match(conflict.stderr, /TAG_CONFLICT/);

    const mixed = await runCli([...args, '--disk', `qemu=${readme}`]);
    assert.equal(mixed.code, 2, mixed.stderr);
    assert.match(mixed.stderr, /--disk and --title are the disk kind's inputs, not the bundle kind's/);

    const unknown = await runCli(['pack', `oci-dir:${layout}:x`, '--config', config, '--kind', 'bundel']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /NO_KIND/);
    assert.match(unknown.stderr, /did you mean "bundle"/);
  });
});
