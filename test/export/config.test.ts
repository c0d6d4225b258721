/** Image configs and manifests of exported trees: fresh, on a base, both formats, refusals. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { isOcipullError } from 'ocipull';
import { buildConfig, buildManifest, type ImageConfig, parsePlatform } from '../../plugins/tree-layer/api.js';

const D = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const BASE: ImageConfig = {
  created: '2020-01-01T00:00:00Z',
  architecture: 'arm64',
  os: 'linux',
  variant: 'v8',
  config: { Env: ['PATH=/bin', 'A=1'], Cmd: ['sh'], Labels: { x: '1' }, WorkingDir: '/' },
  rootfs: { type: 'layers', diff_ids: [D(1), D(2)] },
  history: [{ created_by: 'one' }, { created_by: 'two' }],
  container_config: { kept: true },
};

describe('image config', () => {
  test('fresh: platform, runtime fields, one history entry per layer, exact bytes', () => {
    const built = buildConfig({
      platform: 'linux/x86_64',
      layers: [{ diffId: D(3) }, { diffId: D(4), createdBy: 'step 2', comment: 'why' }],
      runtime: {
        Entrypoint: ['/init'],
        Env: ['A=1'],
        User: '1000:1000',
        WorkingDir: '/app',
        Labels: { k: 'v' },
      },
      created: new Date('2024-02-03T04:05:06Z'),
      author: 'me',
    });
    assert.deepEqual(built.config, {
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [D(3), D(4)] },
      created: '2024-02-03T04:05:06Z',
      author: 'me',
      config: {
        Entrypoint: ['/init'],
        Env: ['A=1'],
        User: '1000:1000',
        WorkingDir: '/app',
        Labels: { k: 'v' },
      },
      history: [
        { created: '2024-02-03T04:05:06Z', created_by: 'ocipull pack --rootfs', author: 'me' },
        { created: '2024-02-03T04:05:06Z', created_by: 'step 2', author: 'me', comment: 'why' },
      ],
    });
    assert.deepEqual(JSON.parse(built.bytes.toString()), built.config);
    assert.deepEqual(built.descriptor, {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha256(built.bytes),
      size: built.bytes.length,
    });
  });

  test('on a base: platform, fields, diff IDs and history carried over and extended; env and labels merged', () => {
    const bytes = Buffer.from(JSON.stringify(BASE));
    const built = buildConfig({
      base: bytes,
      layers: [{ diffId: D(5) }],
      runtime: { Env: ['A=2', 'B=3'], Labels: { y: '2' }, Entrypoint: ['/init'] },
      created: '2024-01-01T00:00:00Z',
      format: 'v2s2',
    });
    const c = built.config;
    assert.deepEqual([c.os, c.architecture, c.variant], ['linux', 'arm64', 'v8']);
    assert.deepEqual(c.rootfs.diff_ids, [D(1), D(2), D(5)]);
    assert.deepEqual(
      c.history?.map((h) => h.created_by),
      ['one', 'two', 'ocipull pack --rootfs'],
    );
    assert.deepEqual(c.config, {
      Env: ['PATH=/bin', 'A=2', 'B=3'],
      Labels: { x: '1', y: '2' },
      Entrypoint: ['/init'],
      WorkingDir: '/',
    });
    assert.deepEqual(c.container_config, { kept: true });
    assert.equal(built.descriptor.mediaType, 'application/vnd.docker.container.image.v1+json');
    // An Entrypoint with a Cmd keeps that Cmd; the base object given is not changed.
    const withCmd = buildConfig({ base: BASE, layers: [], runtime: { Entrypoint: ['/e'], Cmd: ['c'] } });
    assert.deepEqual([withCmd.config.config?.Entrypoint, withCmd.config.config?.Cmd], [['/e'], ['c']]);
    assert.deepEqual(BASE.rootfs.diff_ids, [D(1), D(2)]);
    assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  });

  const refusals: [string, () => unknown][] = [
    ['env without =', () => buildConfig({ layers: [], runtime: { Env: ['NOVALUE'] } })],
    ['user with two colons', () => buildConfig({ layers: [], runtime: { User: 'a:b:c' } })],
    ['relative workdir', () => buildConfig({ layers: [], runtime: { WorkingDir: 'app' } })],
    ['platform without arch', () => buildConfig({ layers: [], platform: 'linux' })],
    ['platform in capitals', () => buildConfig({ layers: [], platform: 'Linux/amd64' })],
    ['platform not the base one', () => buildConfig({ base: BASE, layers: [], platform: 'linux/amd64' })],
    ['diff ID not a digest', () => buildConfig({ layers: [{ diffId: 'sha256:abc' }] })],
    ['base that is an empty artifact config', () => buildConfig({ base: Buffer.from('{}'), layers: [] })],
    ['base that is not JSON', () => buildConfig({ base: Buffer.from('{'), layers: [] })],
    ['created not a date', () => buildConfig({ layers: [], created: 'yesterday' })],
    ['unknown manifest format', () => buildConfig({ layers: [], format: 'v1' as 'oci' })],
  ];
  for (const [name, make] of refusals) {
    test(`refused with IMAGE_CONFIG_INVALID: ${name}`, () => {
      assert.throws(make, (e) => isOcipullError(e, 'IMAGE_CONFIG_INVALID') && /\S/.test(e.hint ?? ''));
    });
  }
});

describe('image manifest', () => {
  const config = buildConfig({ base: BASE, layers: [{ diffId: D(5) }], created: '2024-01-01T00:00:00Z' });
  const layers = [
    { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: D(6), size: 10 },
    {
      mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
      digest: D(7),
      size: 11,
      urls: ['https://x/y'],
    },
    { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D(8), size: 12 },
  ];

  test('OCI: base layers relabelled (same digests), annotations kept', () => {
    const built = buildManifest({ config, layers, annotations: { a: 'b' } });
    assert.deepEqual(built.manifest, {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: config.descriptor,
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D(6), size: 10 },
        {
          mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
          digest: D(7),
          size: 11,
          urls: ['https://x/y'],
        },
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D(8), size: 12 },
      ],
      annotations: { a: 'b' },
    });
    assert.equal(built.descriptor.digest, sha256(built.bytes));
  });

  test('Docker v2s2: Docker media types for config and layers', () => {
    const v2 = buildConfig({ base: BASE, layers: [{ diffId: D(5) }], format: 'v2s2' });
    const built = buildManifest({ format: 'v2s2', config: v2, layers });
    const m = built.manifest as { config: { mediaType: string }; layers: { mediaType: string }[] };
    assert.equal(built.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(m.config.mediaType, 'application/vnd.docker.container.image.v1+json');
    assert.deepEqual(
      m.layers.map((l) => l.mediaType),
      [
        'application/vnd.docker.image.rootfs.diff.tar.gzip',
        'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
        'application/vnd.docker.image.rootfs.diff.tar.gzip',
      ],
    );
  });

  const refusals: [string, string, () => unknown][] = [
    [
      'a zstd layer in v2s2',
      'LAYER_CODEC_UNSUPPORTED',
      () =>
        buildManifest({
          format: 'v2s2',
          config,
          layers: [
            ...layers.slice(0, 2),
            { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: D(9), size: 1 },
          ],
        }),
    ],
    [
      'annotations in v2s2',
      'IMAGE_CONFIG_INVALID',
      () => buildManifest({ format: 'v2s2', config, layers, annotations: { a: 'b' } }),
    ],
    [
      'fewer layers than diff IDs',
      'IMAGE_CONFIG_INVALID',
      () => buildManifest({ config, layers: layers.slice(1) }),
    ],
    [
      'a layer that is not a tar',
      'MEDIA_TYPE_UNSUPPORTED',
      () =>
        buildManifest({
          config,
          layers: [...layers.slice(0, 2), { mediaType: 'application/x-qcow2', digest: D(9), size: 1 }],
        }),
    ],
  ];
  for (const [name, code, make] of refusals) {
    test(`refused with ${code}: ${name}`, () => {
      assert.throws(make, (e) => isOcipullError(e) && e.code === code && /\S/.test(e.hint ?? ''));
    });
  }
});
