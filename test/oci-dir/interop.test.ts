import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Descriptor, LayoutStore, refName } from 'ocipull';
import { compress, makeDisk, run } from '../support/disks.js';
import { sha256Digest } from '../support/independent.js';
import { buildMachineOsLayout, type MachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';
import { pullOrchestrator } from './helpers.js';

/** Interop with Debian's skopeo and umoci: layouts they write are read, layouts LayoutStore writes are accepted. */
describe('OCI layouts shared with skopeo and umoci', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let qcow2: string;
  let raw: string;
  let ours: MachineOsLayout;

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    qcow2 = await makeDisk(dir, { format: 'qcow2', sizeMiB: 16, dataMiB: 1, seed: 5 });
    raw = await makeDisk(dir, { format: 'raw', sizeMiB: 16, dataMiB: 1, seed: 6 });
    ours = await buildMachineOsLayout(join(dir, 'ours'), {
      tag: '5.5',
      nested: true,
      containerImages: true,
      disks: [
        { diskType: 'qemu', arch: 'x86_64', path: await compress(qcow2, 'zstd') },
        { diskType: 'applehv', arch: 'aarch64', path: await compress(raw, 'xz') },
      ],
    });
    // The qemu disk manifest also gets a tag of its own (a single-manifest reference for skopeo).
    const store = await LayoutStore.open(ours.layoutDir);
    await store.addManifest(ours.disks[0]!.descriptor, { tag: 'qemu-x86_64' });
  });
  after(() => cleanup());

  async function pullEquals(
    source: string,
    diskType: string,
    arch: string,
    original: string,
    format: string,
  ) {
    const out = join(dir, `pulled-${Math.random().toString(16).slice(2)}.${format}`);
    const o = await pullOrchestrator({ diskType, arch, format });
    const result = await o.pull({ source, output: out });
    assert.ok(
      (await fsp.readFile(out)).equals(await fsp.readFile(original)),
      `${source}: ${diskType}/${arch}`,
    );
    return result;
  }

  test('skopeo inspect accepts a layout written by LayoutStore (index and single manifest)', async () => {
    const rawIndex = await run('skopeo', ['inspect', '--raw', `oci:${ours.layoutDir}:5.5`]);
    assert.equal(sha256Digest(rawIndex), ours.indexDigest);
    const parsed = JSON.parse(rawIndex) as { manifests: { annotations?: Record<string, string> }[] };
    assert.deepEqual(
      parsed.manifests.map((m) => m.annotations?.disktype ?? null),
      [null, null, 'qemu', 'applehv'],
    );
    // Without --raw skopeo resolves the index to this host's container image and reads its config.
    const image = JSON.parse(
      await run('skopeo', ['inspect', '--override-arch', 'arm64', `oci:${ours.layoutDir}:5.5`]),
    );
    assert.equal(image.Architecture, 'arm64');
    assert.equal(image.Os, 'linux');
    const manifest = await run('skopeo', ['inspect', '--raw', `oci:${ours.layoutDir}:qemu-x86_64`]);
    assert.equal(sha256Digest(manifest), ours.disks[0]!.manifestDigest);
  });

  test('umoci reads the index LayoutStore wrote', async () => {
    const tags = (await run('umoci', ['ls', '--layout', ours.layoutDir])).trim().split('\n').sort();
    assert.deepEqual(tags, ['5.5', 'qemu-x86_64']);
  });

  test('skopeo copy --all of our layout keeps every digest, and ocipull reads the copy', async () => {
    const copy = join(dir, 'copy-all');
    await run('skopeo', ['copy', '-q', '--all', `oci:${ours.layoutDir}:5.5`, `oci:${copy}:5.5`]);
    const index = JSON.parse(await fsp.readFile(join(copy, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    assert.deepEqual(
      index.manifests.map((m) => m.digest),
      [ours.indexDigest],
    );
    const result = await pullEquals(`oci:${copy}:5.5`, 'qemu', 'x86_64', qcow2, 'qcow2');
    assert.equal(result.manifestDigest, ours.disks[0]!.manifestDigest);
    await pullEquals(`oci-dir:${copy}:5.5`, 'applehv', 'aarch64', raw, 'raw');
  });

  test('skopeo copy --all into an untagged layout: a single entry needs no tag', async () => {
    const copy = join(dir, 'copy-untagged');
    await run('skopeo', ['copy', '-q', '--all', `oci:${ours.layoutDir}:5.5`, `oci:${copy}`]);
    const index = JSON.parse(await fsp.readFile(join(copy, 'index.json'), 'utf8')) as {
      manifests: Descriptor[];
    };
    assert.equal(index.manifests.length, 1);
    assert.equal(refName(index.manifests[0]!), undefined);
    await pullEquals(`oci-dir:${copy}`, 'qemu', 'amd64', qcow2, 'qcow2');
  });

  test('skopeo copy of one disk manifest: the layout points straight at the manifest', async () => {
    const copy = join(dir, 'copy-one');
    await run('skopeo', ['copy', '-q', `oci:${ours.layoutDir}:qemu-x86_64`, `oci:${copy}:disk`]);
    const result = await pullEquals(`oci-dir:${copy}:disk`, 'qemu', 'x86_64', qcow2, 'qcow2');
    assert.equal(result.blobDigest, ours.disks[0]!.blobDigest);
  });

  test('a layout skopeo wrote from our copy can be added to with LayoutStore, and skopeo still reads it', async () => {
    const copy = join(dir, 'copy-then-store');
    await run('skopeo', ['copy', '-q', '--all', `oci:${ours.layoutDir}:5.5`, `oci:${copy}:5.5`]);
    const store = await LayoutStore.open(copy);
    await store.addManifest(ours.disks[1]!.descriptor, { tag: 'applehv' });
    assert.equal(
      (await run('umoci', ['ls', '--layout', copy])).trim().split('\n').sort().join(','),
      '5.5,applehv',
    );
    const raw2 = join(dir, 'copy-again');
    await run('skopeo', ['copy', '-q', `oci:${copy}:applehv`, `oci:${raw2}:x`]);
    await pullEquals(`oci:${raw2}:x`, 'applehv', 'aarch64', raw, 'raw');
  });
});
