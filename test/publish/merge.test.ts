/**
 * Merge strategies when the tag exists (merge / overwrite / exit-on-conflict), through the real
 * CLI on a layout that also holds container images, plus `mergeIndex` as data; and the fixture
 * builder: `pack` writes the same digests as the LayoutStore builder.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Annotations, type Descriptor, digestOf, type ImageIndex, MediaTypes, mergeIndex } from 'ocipull';
import { runCli } from '../support/cli.js';
import { compress, makeDisk } from '../support/disks.js';
import { buildMachineOsLayout } from '../support/machine-os.js';
import { packMachineOs } from '../support/pack.js';
import { tempDir } from '../support/paths.js';

const entry = (digit: string, diskType?: string, arch = 'x86_64'): Descriptor => ({
  mediaType: MediaTypes.ociManifest,
  digest: `sha256:${digit.repeat(64)}`,
  size: 1,
  ...(diskType ? { annotations: { disktype: diskType } } : {}),
  platform: { architecture: arch, os: 'linux' },
});
const tagged = (manifests: Descriptor[]) => {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }));
  return {
    descriptor: { mediaType: MediaTypes.ociIndex, digest: digestOf(bytes), size: bytes.length },
    bytes,
  };
};

describe('mergeIndex', () => {
  const old = tagged([
    entry('a', undefined, 'amd64'),
    entry('b', 'qemu'),
    entry('c', 'wsl'),
    entry('d', 'qemu', 'aarch64'),
  ]);
  const CASES = [
    {
      name: 'merge replaces (disktype, os, arch) in place, keeps the rest, appends new ones',
      strategy: 'merge' as const,
      incoming: [entry('e', 'qemu', 'amd64'), entry('f', 'hyperv')],
      expected: ['a', 'e', 'c', 'd', 'f'],
    },
    {
      name: 'overwrite keeps nothing',
      strategy: 'overwrite' as const,
      incoming: [entry('f', 'hyperv')],
      expected: ['f'],
    },
  ];
  for (const c of CASES) {
    test(c.name, () => {
      const result = mergeIndex(old, c.incoming, c.strategy, 'x');
      assert.deepEqual(
        result.index.manifests.map((m) => m.digest[7]),
        c.expected,
      );
    });
  }
  test('exit-on-conflict refuses an existing tag; nothing existing is no conflict', () => {
    assert.throws(() => mergeIndex(old, [entry('f', 'hyperv')], 'exit-on-conflict', 'x'), {
      code: 'TAG_CONFLICT',
    });
    assert.deepEqual(
      mergeIndex(undefined, [entry('f', 'hyperv')], 'exit-on-conflict', 'x').index.manifests.length,
      1,
    );
  });
  test('a lone manifest under the tag is kept as an entry by merge', () => {
    const bytes = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: entry('1'), layers: [] }),
    );
    const lone = {
      descriptor: { mediaType: MediaTypes.ociManifest, digest: digestOf(bytes), size: bytes.length },
      bytes,
    };
    const result = mergeIndex(lone, [entry('f', 'hyperv')], 'merge', 'x');
    assert.deepEqual(
      result.index.manifests.map((m) => m.digest),
      [lone.descriptor.digest, entry('f').digest],
    );
  });
});

describe('pack onto an existing tag', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let qemu: string;
  let qemu2: string;
  let wsl: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-merge-'));
    qemu = await makeDisk(dir, { format: 'qcow2', sizeMiB: 8, dataMiB: 0.5, seed: 71, name: 'a.qcow2' });
    qemu2 = await makeDisk(dir, { format: 'qcow2', sizeMiB: 8, dataMiB: 0.5, seed: 72, name: 'b.qcow2' });
    // A wsl disk is a root filesystem tarball: pack checks for the tar header.
    await makeDisk(dir, {
      format: 'raw',
      sizeMiB: 1,
      dataMiB: 0.5,
      seed: 73,
      name: 'rootfs.img',
    });
    wsl = join(dir, 'rootfs.tar');
    execFileSync('tar', ['-cf', wsl, '-C', dir, 'rootfs.img']);
  });
  after(() => cleanup());

  /** A layout whose tag 5.5 holds container images and x86_64 qemu + wsl disks. */
  async function seeded(name: string) {
    const layout = join(dir, name);
    const built = await buildMachineOsLayout(layout, {
      tag: '5.5',
      nested: true,
      containerImages: true,
      disks: [
        { diskType: 'qemu', arch: 'x86_64', path: await compress(qemu, 'none') },
        { diskType: 'wsl', arch: 'x86_64', path: wsl },
      ],
    });
    return { layout, built };
  }
  const index = async (layout: string, digest: string) =>
    JSON.parse(await fsp.readFile(join(layout, 'blobs', 'sha256', digest.slice(7)), 'utf8')) as ImageIndex;
  const pack = (layout: string, ...extra: string[]) =>
    runCli([
      'pack',
      `oci-dir:${layout}:5.5`,
      '--disk',
      `qemu=${qemu2}`,
      '--arch',
      'amd64',
      '--compress',
      'gzip',
      '--json',
      ...extra,
    ]);

  test('--merge (the default) replaces the qemu x86_64 disk and keeps container images and wsl', async () => {
    const { layout, built } = await seeded('merge');
    const before = await index(layout, built.indexDigest);
    const result = await pack(layout);
    assert.equal(result.code, 0, result.stderr);
    const packed = JSON.parse(result.stdout);
    assert.deepEqual([packed.replaced, packed.kept], [1, 3]);
    const after = await index(layout, packed.indexDigest);
    assert.equal(after.manifests.length, 4);
    assert.deepEqual(
      after.manifests.filter((m) => !m.annotations?.disktype),
      before.manifests.slice(0, 2),
    );
    assert.deepEqual(after.manifests[2]!.digest, packed.disks[0].manifestDigest);
    assert.deepEqual(after.manifests[3], before.manifests[3]);
    const again = await runCli([
      'pack',
      `oci-dir:${layout}:5.5`,
      '--disk',
      `qemu=${qemu2}`,
      '--arch',
      'arm64',
      '--merge',
      '--json',
    ]);
    assert.equal(again.code, 0, again.stderr);
    const both = await index(layout, JSON.parse(again.stdout).indexDigest);
    assert.deepEqual(
      both.manifests.map((m) => [m.annotations?.[Annotations.diskType], m.platform?.architecture]),
      [
        [undefined, 'amd64'],
        [undefined, 'arm64'],
        ['qemu', 'x86_64'],
        ['wsl', 'x86_64'],
        ['qemu', 'aarch64'],
      ],
    );
  });

  test('--overwrite replaces the whole index', async () => {
    const { layout } = await seeded('overwrite');
    const result = await pack(layout, '--overwrite');
    assert.equal(result.code, 0, result.stderr);
    const packed = JSON.parse(result.stdout);
    const after = await index(layout, packed.indexDigest);
    assert.deepEqual(
      after.manifests.map((m) => m.digest),
      [packed.disks[0].manifestDigest],
    );
  });

  test('--exit-on-conflict refuses (TAG_CONFLICT, exit 8) and leaves the tag alone', async () => {
    const { layout } = await seeded('exit');
    const before = await fsp.readFile(join(layout, 'index.json'));
    const result = await pack(layout, '--exit-on-conflict');
    assert.equal(result.code, 8);
    assert.equal(JSON.parse(result.stdout).error.code, 'TAG_CONFLICT');
    assert.ok((await fsp.readFile(join(layout, 'index.json'))).equals(before));
    const fresh = await runCli([
      'pack',
      `oci-dir:${layout}:other`,
      '--disk',
      `qemu=${qemu2}`,
      '--exit-on-conflict',
      '--json',
    ]);
    assert.equal(fresh.code, 0, fresh.stderr);
  });

  test('the fixture builder: pack writes the very digests the LayoutStore builder writes', async () => {
    const disks = [
      { diskType: 'qemu', arch: 'x86_64' as const, path: await compress(qemu, 'zstd') },
      { diskType: 'wsl', arch: 'x86_64' as const, path: await compress(wsl, 'xz') },
      { diskType: 'qemu', arch: 'aarch64' as const, path: await compress(qemu2, 'gzip') },
    ];
    const options = { tag: '5.5', nested: true, containerImages: true, disks };
    const store = await buildMachineOsLayout(join(dir, 'by-store'), { ...options, builder: 'store' });
    const packed = await buildMachineOsLayout(join(dir, 'by-pack'), { ...options, builder: 'pack' });
    assert.equal(packed.indexDigest, store.indexDigest);
    assert.deepEqual(packed.disks, store.disks);
    const direct = await packMachineOs(`oci-dir:${join(dir, 'direct')}:5.5`, { disks });
    assert.deepEqual(
      direct.disks.map((d) => d.manifestDigest),
      store.disks.map((d) => d.manifestDigest),
    );
  });
});
