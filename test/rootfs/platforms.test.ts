/**
 * Platform choice end to end: two images made by the real umoci (linux/amd64 and linux/arm64/v8),
 * an index over them written by code, pushed with `skopeo copy --all` to the real registry, also as a
 * Docker manifest list (`--all --format v2s2`); the platform settings pick each image (aliases
 * and the arm64 v8 default included), and no match is NO_MATCHING_PLATFORM listing what exists.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isOcipullError } from 'ocipull';
import { tempDir } from '../support/paths.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { diffShapes, listTree, pullRootfs, type Shape, shapeOf } from '../support/rootfs.js';
import { skopeoCopy, skopeoRaw, umociUnpack } from '../support/umoci.js';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const sha = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('rootfs platform choice in OCI indexes and Docker manifest lists', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  let registry: TestRegistry;
  let layout: string;
  const expected: Record<string, Map<string, Shape>> = {};
  let n = 0;

  const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: ['ignore', 'ignore', 'pipe'] });

  /** An image of one layer for `arch` in the shared layout, tagged `arch`, holding `/which`. */
  function platformImage(arch: string): void {
    const bundle = join(base, `bundle-${arch}`);
    umoci('new', '--image', `${layout}:${arch}`);
    umoci('config', '--image', `${layout}:${arch}`, '--os', 'linux', '--architecture', arch);
    umoci('unpack', '--image', `${layout}:${arch}`, bundle);
    execFileSync('sh', ['-e', '-c', `mkdir -p $R/etc; echo ${arch} > $R/which; echo ${arch} > $R/etc/arch`], {
      env: { ...process.env, R: join(bundle, 'rootfs') },
    });
    umoci('repack', '--image', `${layout}:${arch}`, bundle);
  }

  /** Tag `tag` in the layout: an OCI index whose entries are the tags' manifests with these platforms. */
  async function writeIndex(tag: string, entries: { tag: string; platform?: Record<string, string> }[]) {
    const indexPath = join(layout, 'index.json');
    const top = JSON.parse(await readFile(indexPath, 'utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    const byTag = (t: string) =>
      top.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === t)!;
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: entries.map((e) => {
          const { annotations: _, ...descriptor } = byTag(e.tag) as (typeof top.manifests)[0] & object;
          return e.platform ? { ...descriptor, platform: e.platform } : descriptor;
        }),
      }),
    );
    const digest = sha(bytes);
    await writeFile(join(layout, 'blobs', 'sha256', digest.slice(7)), bytes);
    top.manifests.push({
      mediaType: OCI_INDEX,
      digest,
      size: bytes.length,
      annotations: { 'org.opencontainers.image.ref.name': tag },
    } as (typeof top.manifests)[0]);
    await writeFile(indexPath, JSON.stringify(top));
  }

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-rootfs-platforms-'));
    layout = join(base, 'layout');
    umoci('init', '--layout', layout);
    platformImage('amd64');
    platformImage('arm64');
    for (const arch of ['amd64', 'arm64'])
      expected[arch] = shapeOf(await listTree(umociUnpack(layout, join(base, `umoci-${arch}`), arch)));
    await writeIndex('multi', [
      { tag: 'amd64', platform: { os: 'linux', architecture: 'amd64' } },
      { tag: 'arm64', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ]);
    // The arm64 entry without its variant: a wanted v8 must still match it.
    await writeIndex('novariant', [
      { tag: 'amd64', platform: { os: 'linux', architecture: 'amd64' } },
      { tag: 'arm64', platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    // An index whose one entry is the index above, without a platform (as indexes usually are).
    await writeIndex('nested', [{ tag: 'multi' }]);
    registry = await startRegistry(join(base, 'registry'));
    skopeoCopy(`oci:${layout}:multi`, `docker://${registry.addr}/multi:1`, '--all', '--preserve-digests');
    skopeoCopy(
      `oci:${layout}:novariant`,
      `docker://${registry.addr}/novariant:1`,
      '--all',
      '--preserve-digests',
    );
  });
  after(async () => {
    await registry?.stop();
    await cleanup();
  });

  async function pull(source: string, options: Record<string, unknown>) {
    const output = join(base, `out${n++}`);
    const result = await pullRootfs({ source, output, cwd: base, options: { tlsVerify: false, ...options } });
    return { result, tree: shapeOf(await listTree(output)) };
  }

  it('the pushed index is an OCI index of both images', () => {
    const index = skopeoRaw(`docker://${registry.addr}/multi:1`) as {
      mediaType: string;
      manifests: { platform: { architecture: string } }[];
    };
    assert.equal(index.mediaType, OCI_INDEX);
    assert.deepEqual(
      index.manifests.map((m) => m.platform.architecture),
      ['amd64', 'arm64'],
    );
  });

  const CHOICES = [
    {
      options: { arch: 'amd64', os: 'linux' },
      image: 'amd64',
      platform: { os: 'linux', architecture: 'amd64' },
    },
    {
      options: { arch: 'x86_64', os: 'linux' },
      image: 'amd64',
      platform: { os: 'linux', architecture: 'amd64' },
    },
    {
      options: { arch: 'arm64', os: 'linux' },
      image: 'arm64',
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    },
    {
      options: { arch: 'aarch64', os: 'linux' },
      image: 'arm64',
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    },
    {
      options: { arch: 'arm64', os: 'linux', variant: 'v8' },
      image: 'arm64',
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    },
  ];
  for (const { options, image, platform } of CHOICES) {
    it(`${JSON.stringify(options)} takes the ${image} image of the registry's OCI index`, async () => {
      const { result, tree } = await pull(`docker://${registry.addr}/multi:1`, options);
      // The result names the entry's platform, variant included.
      assert.deepEqual(result.platform, platform);
      assert.deepEqual(diffShapes(tree, expected[image]!), []);
    });
  }

  it('a wanted arm64/v8 matches an arm64 entry without a variant (from the oci: layout and the registry)', async () => {
    for (const source of [`oci:${layout}:novariant`, `docker://${registry.addr}/novariant:1`]) {
      const { result, tree } = await pull(source, { arch: 'arm64', os: 'linux', variant: 'v8' });
      assert.equal(result.platform.architecture, 'arm64');
      assert.deepEqual(diffShapes(tree, expected.arm64!), [], source);
    }
  });

  it('an index nested without a platform is searched (from the oci: layout)', async () => {
    for (const [arch, image] of [
      ['x86_64', 'amd64'],
      ['aarch64', 'arm64'],
    ] as const) {
      const { result, tree } = await pull(`oci:${layout}:nested`, { arch, os: 'linux' });
      assert.equal(result.platform.architecture, image);
      assert.deepEqual(diffShapes(tree, expected[image]!), []);
    }
    await assert.rejects(
      pullRootfs({
        source: `oci:${layout}:nested`,
        output: join(base, `none${n++}`),
        cwd: base,
        options: { arch: 's390x', os: 'linux' },
      }),
      (e) => {
        assert.ok(isOcipullError(e, 'NO_MATCHING_PLATFORM'), String(e));
        assert.match((e as { hint?: string }).hint ?? '', /the index has: linux\/amd64, linux\/arm64\/v8;/);
        return true;
      },
    );
  });

  it('indexes sharing one nested index many times are searched once each (6 levels of 30 entries)', async () => {
    // tag "wide": level 0 lists level 1 thirty times, ... level 5 lists the arm64 image.
    const top = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
      manifests: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
    };
    const arm = top.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'arm64')!;
    let entry: object = {
      mediaType: arm.mediaType,
      digest: arm.digest,
      size: arm.size,
      platform: { os: 'linux', architecture: 'arm64' },
    };
    for (let level = 0; level < 6; level++) {
      const bytes = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_INDEX,
          manifests: Array(level === 0 ? 1 : 30).fill(entry),
        }),
      );
      await writeFile(join(layout, 'blobs', 'sha256', sha(bytes).slice(7)), bytes);
      entry = { mediaType: OCI_INDEX, digest: sha(bytes), size: bytes.length };
    }
    top.manifests.push({
      ...(entry as typeof arm),
      annotations: { 'org.opencontainers.image.ref.name': 'wide' },
    });
    await writeFile(join(layout, 'index.json'), JSON.stringify(top));
    await assert.rejects(
      pullRootfs({
        source: `oci:${layout}:wide`,
        output: join(base, `none${n++}`),
        cwd: base,
        options: { arch: 'amd64', os: 'linux' },
      }),
      (e) => {
        assert.ok(isOcipullError(e, 'NO_MATCHING_PLATFORM'), String(e));
        assert.match((e as { hint?: string }).hint ?? '', /the index has: linux\/arm64;/);
        return true;
      },
    );
    const { tree } = await pull(`oci:${layout}:wide`, { arch: 'arm64', os: 'linux' });
    assert.deepEqual(diffShapes(tree, expected.arm64!), []);
  });

  it('no image for the platform: NO_MATCHING_PLATFORM naming what the index has, nothing written', async () => {
    for (const options of [
      { arch: 's390x', os: 'linux' },
      { arch: 'arm64', os: 'linux', variant: 'v9' },
      { arch: 'amd64', os: 'freebsd' },
    ]) {
      const output = join(base, `none${n++}`);
      await assert.rejects(
        pullRootfs({
          source: `docker://${registry.addr}/multi:1`,
          output,
          cwd: base,
          options: { tlsVerify: false, ...options },
        }),
        (e) => {
          assert.ok(isOcipullError(e, 'NO_MATCHING_PLATFORM'), String(e));
          assert.match((e as { hint?: string }).hint ?? '', /linux\/amd64, linux\/arm64\/v8/);
          return true;
        },
      );
      await assert.rejects(readFile(output), { code: 'ENOENT' });
    }
  });

  it('a Docker manifest list (skopeo copy --all --format v2s2): each platform picked', async () => {
    skopeoCopy(`oci:${layout}:multi`, `docker://${registry.addr}/list:1`, '--all', '--format', 'v2s2');
    const list = skopeoRaw(`docker://${registry.addr}/list:1`) as {
      mediaType: string;
      manifests: { mediaType: string }[];
    };
    assert.equal(list.mediaType, DOCKER_LIST);
    assert.deepEqual(
      list.manifests.map((m) => m.mediaType),
      Array(2).fill('application/vnd.docker.distribution.manifest.v2+json'),
    );
    for (const [arch, image] of [
      ['x86_64', 'amd64'],
      ['aarch64', 'arm64'],
    ] as const) {
      const { result, tree } = await pull(`docker://${registry.addr}/list:1`, { arch, os: 'linux' });
      assert.equal(result.platform.architecture, image);
      assert.deepEqual(diffShapes(tree, expected[image]!), []);
    }
  });
});
