import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Codec, compress, type DiskFormat, makeDisk, run } from '../support/disks.js';
import { buildMachineOsLayout, type MachineArch, type MachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';
import { pullOrchestrator, strayFiles } from './helpers.js';

interface Case {
  diskType: string;
  format: DiskFormat;
  codec: Codec;
  arch: MachineArch;
}

const CASES: Case[] = [
  { diskType: 'qemu', format: 'qcow2', codec: 'zstd', arch: 'x86_64' },
  { diskType: 'qemu', format: 'qcow2', codec: 'zstd', arch: 'aarch64' },
  { diskType: 'applehv', format: 'raw', codec: 'xz', arch: 'aarch64' },
  { diskType: 'hyperv', format: 'vhdx', codec: 'gzip', arch: 'x86_64' },
  { diskType: 'qemu', format: 'qcow2', codec: 'bzip2', arch: 'x86_64' },
];

describe('pull from an OCI layout, end to end through the orchestrator', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const originals = new Map<string, string>();
  const layouts: Record<string, MachineOsLayout> = {};

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    const disks = [];
    for (const [i, c] of CASES.entries()) {
      const disk = await makeDisk(dir, {
        format: c.format,
        sizeMiB: 16,
        dataMiB: 1,
        seed: i + 1,
        name: `d${i}.${c.format}`,
      });
      if (i < 4) originals.set(`${c.diskType}/${c.arch}`, disk);
      disks.push({ diskType: c.diskType, arch: c.arch, path: await compress(disk, c.codec) });
    }
    // The bzip2 qemu disk goes into a layout of its own (same disktype/arch as the zstd one).
    const [zq, za, ap, hv, bz] = disks;
    layouts.nested = await buildMachineOsLayout(join(dir, 'nested'), {
      tag: 'latest',
      nested: true,
      containerImages: true,
      disks: [zq!, za!, ap!, hv!],
    });
    layouts.flat = await buildMachineOsLayout(join(dir, 'flat'), { disks: [zq!, za!, ap!, hv!] });
    layouts.bzip2 = await buildMachineOsLayout(join(dir, 'bzip2'), { tag: 'bz', nested: true, disks: [bz!] });
    layouts.tar = await buildMachineOsLayout(join(dir, 'tar'), {
      tag: 'old',
      oneFileTar: true,
      disks: [zq!],
    });
    layouts.targz = await buildMachineOsLayout(join(dir, 'targz'), { oneFileTar: 'gzip', disks: [ap!] });
  });
  after(() => cleanup());

  async function pullAndCompare(
    source: string,
    c: Omit<Case, 'codec'>,
    original: string,
    layout: MachineOsLayout,
  ) {
    const out = join(dir, `out-${Math.random().toString(16).slice(2)}`);
    await fsp.mkdir(out);
    const target = join(out, `disk.${c.format}`);
    const o = await pullOrchestrator({ diskType: c.diskType, arch: c.arch, format: c.format });
    const result = await o.pull({ source, output: target });
    assert.deepEqual(
      await fsp.readFile(target),
      await fsp.readFile(original),
      `${source} ${c.diskType}/${c.arch}`,
    );
    const disk = layout.disks.find((d) => d.diskType === c.diskType && d.arch === c.arch)!;
    assert.equal(result.manifestDigest, disk.manifestDigest);
    assert.equal(result.blobDigest, disk.blobDigest);
    assert.equal(result.diskType, c.diskType);
    assert.deepEqual(result.platform, { os: 'linux', architecture: c.arch });
    assert.equal(result.output, target);
    assert.equal(result.bytesFetched, disk.blobSize);
    assert.deepEqual(await strayFiles(out), [`disk.${c.format}`]);
    await run('qemu-img', ['compare', '-f', c.format, '-F', c.format, target, original]);
  }

  for (const c of CASES.slice(0, 4)) {
    test(`${c.diskType} ${c.arch} (${c.format}.${c.codec}) from a nested layout, by tag`, async () => {
      await pullAndCompare(
        `oci-dir:${layouts.nested!.layoutDir}:latest`,
        c,
        originals.get(`${c.diskType}/${c.arch}`)!,
        layouts.nested!,
      );
    });
    test(`${c.diskType} ${c.arch} (${c.format}.${c.codec}) from a flat layout, untagged, oci: spelling`, async () => {
      await pullAndCompare(
        `oci:${layouts.flat!.layoutDir}`,
        c,
        originals.get(`${c.diskType}/${c.arch}`)!,
        layouts.flat!,
      );
    });
  }

  test('amd64 asks for the x86_64 disk', async () => {
    const c = CASES[0]!;
    const out = join(dir, 'amd64.qcow2');
    const o = await pullOrchestrator({ diskType: 'qemu', arch: 'amd64', format: 'qcow2' });
    const result = await o.pull({ source: `oci-dir://${layouts.nested!.layoutDir}:latest`, output: out });
    assert.equal(result.platform.architecture, 'x86_64');
    assert.deepEqual(await fsp.readFile(out), await fsp.readFile(originals.get(`${c.diskType}/${c.arch}`)!));
  });

  test('a bzip2 disk', async () => {
    const c = CASES[4]!;
    const original = join(dir, 'd4.qcow2');
    await pullAndCompare(`oci-dir:${layouts.bzip2!.layoutDir}:bz`, c, original, layouts.bzip2!);
  });

  test("seed 001's one-file tar layer, plain and gzip", async () => {
    await pullAndCompare(
      `oci-dir:${layouts.tar!.layoutDir}:old`,
      CASES[0]!,
      originals.get('qemu/x86_64')!,
      layouts.tar!,
    );
    await pullAndCompare(
      `oci-dir:${layouts.targz!.layoutDir}`,
      CASES[2]!,
      originals.get('applehv/aarch64')!,
      layouts.targz!,
    );
  });
});
