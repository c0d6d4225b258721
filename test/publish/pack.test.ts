/**
 * `ocipull pack` into OCI layouts, run as the real CLI: every hypervisor's disk format with every
 * codec pulled back byte-identical, the exact machine-os shapes, and bad input refused.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Annotations, EMPTY_DESCRIPTOR, type ImageIndex, type ImageManifest, MediaTypes } from 'ocipull';
import { pullOrchestrator } from '../oci-dir/helpers.js';
import { runCli } from '../support/cli.js';
import { compress, makeDisk, run } from '../support/disks.js';
import { prngBytes } from '../support/files.js';
import { packMachineOs } from '../support/pack.js';
import { tempDir } from '../support/paths.js';
import { tarOfFiles } from '../support/tar.js';

const HYPERVISORS = [
  { diskType: 'qemu', format: 'qcow2' },
  { diskType: 'applehv', format: 'raw' },
  { diskType: 'hyperv', format: 'vhdx' },
  { diskType: 'wsl', format: 'tar' },
] as const;
const CODECS = [
  { codec: 'zstd', ext: '.zst', mediaType: 'application/zstd', magic: '28b52ffd' },
  { codec: 'xz', ext: '.xz', mediaType: 'application/x-xz', magic: 'fd377a585a00' },
  { codec: 'gzip', ext: '.gz', mediaType: 'application/gzip', magic: '1f8b' },
  { codec: 'none', ext: '', mediaType: 'application/octet-stream', magic: '' },
] as const;

describe('ocipull pack into an OCI layout', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const inputs: Record<string, string> = {};

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-pack-'));
    for (const [i, h] of HYPERVISORS.entries()) {
      inputs[h.diskType] =
        h.format === 'tar'
          ? await fsp
              .writeFile(
                join(dir, 'rootfs.tar'),
                await tarOfFiles([
                  { name: 'etc/os-release', data: Buffer.from('ID=ocipull-test\n') },
                  { name: 'usr/bin/data', data: prngBytes(300_000, 1) },
                ]),
              )
              .then(() => join(dir, 'rootfs.tar'))
          : await makeDisk(dir, {
              format: h.format,
              sizeMiB: 16,
              dataMiB: 1,
              seed: 40 + i,
              name: `in.${h.format}`,
            });
    }
  });
  after(() => cleanup());

  for (const c of CODECS) {
    test(`every hypervisor with --compress ${c.codec}: the exact format, pulled back byte-identical`, async () => {
      const layout = join(dir, `layout-${c.codec}`);
      const packed = await packMachineOs(`oci-dir:${layout}:5.5`, {
        compress: c.codec,
        disks: HYPERVISORS.map((h) => ({ diskType: h.diskType, arch: 'amd64', path: inputs[h.diskType]! })),
      });
      // index.json → the machine-os index (as `skopeo copy --all` leaves it) → one manifest per disk.
      const top = JSON.parse(await fsp.readFile(join(layout, 'index.json'), 'utf8')) as ImageIndex;
      assert.deepEqual(
        top.manifests.map((m) => [m.digest, m.annotations?.[Annotations.refName]]),
        [[packed.indexDigest, '5.5']],
      );
      const blob = (digest: string) => fsp.readFile(join(layout, 'blobs', 'sha256', digest.slice(7)));
      const index = JSON.parse((await blob(packed.indexDigest)).toString()) as ImageIndex;
      assert.equal(index.mediaType, MediaTypes.ociIndex);
      assert.deepEqual(
        index.manifests.map((m) => [m.annotations, m.platform, m.mediaType]),
        HYPERVISORS.map((h) => [
          { disktype: h.diskType },
          { architecture: 'x86_64', os: 'linux' },
          MediaTypes.ociManifest,
        ]),
      );
      for (const [i, h] of HYPERVISORS.entries()) {
        const manifest = JSON.parse((await blob(index.manifests[i]!.digest)).toString()) as ImageManifest;
        assert.deepEqual(manifest.config, { ...EMPTY_DESCRIPTOR });
        assert.equal(manifest.layers.length, 1);
        const layer = manifest.layers[0]!;
        assert.equal(layer.mediaType, c.mediaType);
        assert.equal(
          layer.annotations?.[Annotations.title],
          `podman-machine.x86_64.${h.diskType}.${h.format}${c.ext}`,
        );
        const bytes = await blob(layer.digest);
        assert.equal(bytes.length, layer.size);
        assert.ok(bytes.subarray(0, 6).toString('hex').startsWith(c.magic));
        if (c.codec === 'none') assert.ok(bytes.equals(await fsp.readFile(inputs[h.diskType]!)));
        // ... and ocipull pulls the very disk back.
        const out = join(dir, `out-${c.codec}-${h.diskType}.${h.format}`);
        const o = await pullOrchestrator({ diskType: h.diskType, arch: 'x86_64', format: h.format });
        const result = await o.pull({ source: `oci-dir:${layout}:5.5`, output: out });
        assert.equal(result.manifestDigest, index.manifests[i]!.digest);
        assert.ok(
          (await fsp.readFile(out)).equals(await fsp.readFile(inputs[h.diskType]!)),
          `${h.diskType} ${c.codec}`,
        );
      }
      // The empty config is stored too (skopeo and umoci read it from blobs/), and nothing stray is left.
      assert.equal((await blob(EMPTY_DESCRIPTOR.digest)).toString(), '{}');
      const names = await fsp.readdir(join(layout, 'blobs', 'sha256'));
      assert.deepEqual(
        names.filter((n) => n.startsWith('.')),
        [],
      );
      // skopeo reads the layout as the same index.
      const raw = await run('skopeo', ['inspect', '--raw', `oci:${layout}:5.5`]);
      assert.deepEqual(JSON.parse(raw), index);
    });
  }

  test('an already compressed disk is published as it is; --title and --arch arm64', async () => {
    const zst = await compress(inputs.qemu!, 'zstd');
    const layout = join(dir, 'asis');
    const result = await runCli([
      'pack',
      `oci-dir:${layout}`,
      '--disk',
      `qemu=${zst}`,
      '--arch',
      'arm64',
      '--title',
      'custom.qcow2.zst',
      '--json',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const packed = JSON.parse(result.stdout);
    assert.equal(packed.tag, 'latest');
    assert.equal(packed.disks[0].title, 'custom.qcow2.zst');
    assert.deepEqual(packed.disks[0].platform, { os: 'linux', architecture: 'aarch64' });
    assert.ok(
      (await fsp.readFile(join(layout, 'blobs', 'sha256', packed.disks[0].blobDigest.slice(7)))).equals(
        await fsp.readFile(zst),
      ),
    );
    const out = join(dir, 'asis.qcow2');
    const pulled = await runCli([
      'pull',
      `oci-dir:${layout}`,
      '--disk-type',
      'qemu',
      '--arch',
      'arm64',
      '-o',
      out,
      '-q',
    ]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.ok((await fsp.readFile(out)).equals(await fsp.readFile(inputs.qemu!)));
  });

  const BAD: { name: string; args: (layout: string) => string[]; code: string; exit: number }[] = [
    { name: 'no --disk', args: (l) => ['pack', `oci-dir:${l}`], code: 'PACK_INPUT_INVALID', exit: 2 },
    {
      name: 'missing file',
      args: (l) => ['pack', `oci-dir:${l}`, '--disk', `qemu=${l}-nope.qcow2`],
      code: 'PACK_INPUT_INVALID',
      exit: 2,
    },
    {
      name: 'not HYPERVISOR=PATH',
      args: (l) => ['pack', `oci-dir:${l}`, '--disk', 'disk.qcow2'],
      code: 'PACK_INPUT_INVALID',
      exit: 2,
    },
    {
      name: 'same hypervisor twice',
      args: (l) => ['pack', `oci-dir:${l}`, '--disk', `qemu=${inputs.qemu}`, '--disk', `qemu=${inputs.qemu}`],
      code: 'PACK_INPUT_INVALID',
      exit: 2,
    },
    {
      name: 'title with a slash',
      args: (l) => ['pack', `oci-dir:${l}`, '--disk', `qemu=${inputs.qemu}`, '--title', '../x'],
      code: 'PACK_INPUT_INVALID',
      exit: 2,
    },
    {
      name: 'two strategies',
      args: (l) => ['pack', `oci-dir:${l}`, '--disk', `qemu=${inputs.qemu}`, '--merge', '--overwrite'],
      code: 'USAGE',
      exit: 2,
    },
    {
      name: 'bad tag',
      args: (l) => ['pack', `oci-dir:${l}`, '--disk', `qemu=${inputs.qemu}`, '--tag', 'a/b'],
      code: 'TAG_INVALID',
      exit: 2,
    },
  ];
  for (const bad of BAD) {
    test(`refused: ${bad.name} (${bad.code}), and nothing written`, async () => {
      const layout = join(dir, `bad-${bad.name.replace(/\W+/g, '-')}`);
      const result = await runCli([...bad.args(layout), '--json']);
      assert.equal(result.code, bad.exit, result.stderr);
      assert.equal(JSON.parse(result.stdout).error.code, bad.code);
      await assert.rejects(fsp.access(join(layout, 'index.json')));
    });
  }

  test('a compressed disk with a different --compress is refused', async () => {
    const xz = await compress(inputs.applehv!, 'xz');
    const result = await runCli([
      'pack',
      `oci-dir:${join(dir, 'mismatch')}`,
      '--disk',
      `applehv=${xz}`,
      '--compress',
      'zstd',
      '--json',
    ]);
    assert.equal(result.code, 2);
    const error = JSON.parse(result.stdout).error;
    assert.equal(error.code, 'PACK_INPUT_INVALID');
    assert.match(error.message, /already compressed with xz/);
  });
});
