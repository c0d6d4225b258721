/**
 * pack checks what it is told before publishing anything: the disk's bytes against the disk
 * type and title (a vhdx under --disk qemu=), the disk type and architecture against known ones.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger, isOcipullError, Orchestrator, runPack } from 'ocipull';
import { seededBytes } from '../support/codec.js';
import { useBuiltins } from '../support/files.js';
import { tempDir } from '../support/paths.js';

describe('pack refuses what is not what it claims, before publishing', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    tmp = await tempDir('ocipull-pack-checks-');
  });
  after(() => tmp.cleanup());
  const orchestrator = () => new Orchestrator({ log: createLogger('silent'), settings: { arch: 'x86_64' } });

  const file = async (name: string, head: string) => {
    const path = join(tmp.dir, name);
    await fsp.writeFile(path, Buffer.concat([Buffer.from(head, 'latin1'), seededBytes(name, 8192)]));
    return path;
  };

  const refuses = async (request: Parameters<typeof runPack>[1], code: string, message: RegExp) => {
    await assert.rejects(runPack(orchestrator(), request), (error) => {
      assert.ok(isOcipullError(error, code as never), String(error));
      assert.match(error.message + (error.hint ?? ''), message);
      return true;
    });
  };

  it('a vhdx under --disk qemu= is DISK_FORMAT_MISMATCH, and nothing is published', async () => {
    const layout = join(tmp.dir, 'layout-1');
    await refuses(
      {
        destination: `oci-dir:${layout}`,
        disks: [{ hypervisor: 'qemu', path: await file('a.vhdx', 'vhdxfile') }],
      },
      'DISK_FORMAT_MISMATCH',
      /--disk qemu= says qcow2, but the disk is a vhdx disk/,
    );
    await assert.rejects(fsp.stat(layout), { code: 'ENOENT' });
  });

  it('an already compressed vhdx under --disk qemu= is refused in every codec (the real tools decode its head)', async () => {
    const vhdx = await file('c.vhdx', 'vhdxfile');
    const tools: [string, string, string[]][] = [
      ['zst', 'zstd', ['-q', '-c']],
      ['xz', 'xz', ['-c']],
      ['gz', 'gzip', ['-c']],
      ['bz2', 'bzip2', ['-c']],
    ];
    for (const [ext, tool, args] of tools) {
      const path = join(tmp.dir, `c.vhdx.${ext}`);
      await fsp.writeFile(path, execFileSync(tool, [...args, vhdx]));
      const layout = join(tmp.dir, `layout-c-${ext}`);
      await refuses(
        { destination: `oci-dir:${layout}`, disks: [{ hypervisor: 'qemu', path }] },
        'DISK_FORMAT_MISMATCH',
        /--disk qemu= says qcow2, but the disk is a vhdx disk/,
      );
      await assert.rejects(fsp.stat(layout), { code: 'ENOENT' }, `${ext}: nothing published`);
    }
    // The same bytes under their own disk type are published as they are.
    const path = join(tmp.dir, 'c.vhdx.zst');
    const result = await runPack(await useBuiltins(orchestrator(), ['oci-dir']), {
      destination: `oci-dir:${join(tmp.dir, 'layout-c-ok')}`,
      disks: [{ hypervisor: 'hyperv', path }],
    });
    assert.equal(result.disks[0]?.title, 'podman-machine.x86_64.hyperv.vhdx.zst');
  });

  it('random bytes titled .qcow2 are DISK_FORMAT_MISMATCH', async () => {
    await refuses(
      {
        destination: `oci-dir:${join(tmp.dir, 'layout-2')}`,
        disks: [{ hypervisor: 'qemu', path: await file('b.qcow2', 'QFI\xfb'), title: 'x.raw' }],
      },
      'DISK_FORMAT_MISMATCH',
      /--title x.raw says raw, but the disk is a qcow2 disk/,
    );
  });

  it('--disk qmeu= is refused with a suggestion', async () => {
    await refuses(
      {
        destination: `oci-dir:${join(tmp.dir, 'layout-3')}`,
        disks: [{ hypervisor: 'qmeu', path: await file('c.qcow2', 'QFI\xfb') }],
      },
      'PACK_INPUT_INVALID',
      /not a known disk type.*did you mean "qemu"/s,
    );
  });

  it('--arch amd46 is refused with a suggestion', async () => {
    await refuses(
      {
        destination: `oci-dir:${join(tmp.dir, 'layout-4')}`,
        arch: 'amd46',
        disks: [{ hypervisor: 'qemu', path: await file('d.qcow2', 'QFI\xfb') }],
      },
      'PACK_INPUT_INVALID',
      /not a known architecture.*did you mean "amd64"/s,
    );
  });

  it('a qcow2 under --disk qemu= is published', async () => {
    const result = await runPack(await useBuiltins(orchestrator(), ['oci-dir']), {
      destination: `oci-dir:${join(tmp.dir, 'layout-5')}`,
      disks: [{ hypervisor: 'qemu', path: await file('e.qcow2', 'QFI\xfb') }],
    });
    assert.equal(result.disks[0]?.title, 'podman-machine.x86_64.qemu.qcow2.zst');
  });
});
