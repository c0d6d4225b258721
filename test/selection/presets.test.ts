import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../support/cli.js';
import { allocated } from '../support/codec.js';
import { hostArchNames } from '../support/independent.js';
import { buildMachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';
import {
  ARCHES,
  FORMATS,
  layoutOf,
  makeSourceDisks,
  pullArgs,
  pullInProcess,
  type SourceDisk,
  sha256File,
} from './layouts.js';

const OCI_ARCH: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64' };
const PRESETS: Record<string, string> = {
  qemu: 'qemu',
  applehv: 'applehv',
  libkrun: 'applehv',
  hyperv: 'hyperv',
  wsl: 'wsl',
};

describe('presets over a generated machine-os layout', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disks: SourceDisk[];
  let flat: string;
  let nested: string;
  let n = 0;
  const outDir = async () => {
    const dir = join(tmp.dir, `out-${++n}`);
    await fsp.mkdir(dir);
    return dir;
  };
  const cache = () => join(tmp.dir, 'cache');
  const disk = (diskType: string, arch: string) =>
    disks.find((d) => d.diskType === diskType && d.arch === arch)!;

  before(async () => {
    tmp = await tempDir('ocipull-presets-');
    const src = join(tmp.dir, 'src');
    await fsp.mkdir(src);
    disks = await makeSourceDisks(src);
    flat = (await layoutOf(join(tmp.dir, 'flat'), disks)).layoutDir;
    nested = (await layoutOf(join(tmp.dir, 'nested'), disks, { nested: true, tag: '5.5' })).layoutDir;
  });
  after(() => tmp.cleanup());

  for (const [preset, diskType] of Object.entries(PRESETS)) {
    for (const arch of ARCHES) {
      it(`--preset ${preset} --arch ${arch} writes the ${diskType} ${arch} disk as <name>-<arch>.<format>`, async () => {
        const out = await outDir();
        const result = await pullInProcess(`oci-dir:${flat}:latest`, `${out}/`, {
          preset,
          arch,
          cacheDir: cache(),
        });
        const file = join(out, `podman-machine-default-${OCI_ARCH[arch]}.${FORMATS[diskType]}`);
        assert.equal(result.output, file);
        assert.equal(result.diskType, diskType);
        assert.deepEqual(result.platform, { os: 'linux', architecture: arch });
        assert.equal(await sha256File(file), disk(diskType, arch).sha256);
        if (FORMATS[diskType] === 'raw') {
          const size = (await fsp.stat(file)).size;
          assert.ok(
            (await allocated(file)) < size / 2,
            `raw output is sparse (${await allocated(file)} of ${size} bytes allocated)`,
          );
        }
      });
    }
  }

  it('a raw disk is written sparse when nothing sets sparse, dense with --no-sparse', async () => {
    const size = (await fsp.stat(disk('applehv', 'x86_64').plain)).size;
    const auto = await outDir();
    // qemu's preset leaves sparse unset: the selected disk's format (raw) decides.
    const sparse = await pullInProcess(`oci-dir:${flat}:latest`, `${auto}/`, {
      preset: 'qemu',
      diskType: 'applehv',
      arch: 'x86_64',
      cacheDir: cache(),
    });
    assert.match(sparse.output, /\.raw$/);
    assert.ok(
      (await allocated(sparse.output)) < size / 2,
      `${await allocated(sparse.output)} of ${size} allocated`,
    );
    const dense = await pullInProcess(`oci-dir:${flat}:latest`, `${await outDir()}/`, {
      preset: 'applehv',
      arch: 'x86_64',
      sparse: false,
      cacheDir: cache(),
    });
    assert.equal(await sha256File(dense.output), disk('applehv', 'x86_64').sha256);
    assert.ok(
      (await allocated(dense.output)) >= size,
      `${await allocated(dense.output)} of ${size} allocated`,
    );
  });

  it('without --arch the host architecture is selected, os linux', async () => {
    const out = await outDir();
    const result = await pullInProcess(`oci-dir:${flat}:latest`, `${out}/`, {
      preset: 'qemu',
      cacheDir: cache(),
    });
    assert.equal(result.platform.architecture, hostArchNames().uname);
    assert.equal(result.platform.os, 'linux');
    assert.equal(result.output, join(out, `podman-machine-default-${hostArchNames().goarch}.qcow2`));
  });

  it('--arch takes either naming: amd64 and x86_64 pull the same disk', async () => {
    for (const arch of ['amd64', 'x86_64', 'arm64', 'aarch64']) {
      const out = await outDir();
      await pullInProcess(`oci-dir:${flat}:latest`, join(out, 'd.qcow2'), {
        preset: 'qemu',
        arch,
        cacheDir: cache(),
      });
      const expected = disk('qemu', arch === 'arm64' || arch === 'aarch64' ? 'aarch64' : 'x86_64');
      assert.equal(await sha256File(join(out, 'd.qcow2')), expected.sha256, arch);
    }
  });

  it('--disk-type overrides the preset', async () => {
    const out = await outDir();
    const r = await runCli(
      pullArgs(`oci-dir:${flat}:latest`, `${out}/`, cache(), [
        '--preset',
        'qemu',
        '--disk-type',
        'hyperv',
        '--arch',
        'aarch64',
      ]),
    );
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.diskType, 'hyperv');
    assert.equal(result.output, join(out, 'podman-machine-default-arm64.vhdx'), 'the title names the format');
    assert.equal(await sha256File(result.output), disk('hyperv', 'aarch64').sha256);
  });

  it('--os overrides the preset: no linux-only index has a windows disk, and the error lists what exists', async () => {
    const r = await runCli(
      pullArgs(`oci-dir:${flat}:latest`, `${await outDir()}/`, cache(), [
        '--preset',
        'wsl',
        '--os',
        'windows',
        '--arch',
        'x86_64',
      ]),
    );
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /NO_MATCHING_DISK/);
    assert.match(r.stderr, /no wsl windows\/x86_64 disk/);
    for (const d of disks)
      assert.ok(r.stderr.includes(`${d.diskType} linux/${d.arch}`), `${d.diskType} linux/${d.arch} listed`);
    const json = JSON.parse(r.stdout);
    assert.equal(json.error.code, 'NO_MATCHING_DISK');
    assert.equal(json.error.data.offered.length, disks.length);
    const ok = await runCli(
      pullArgs(`oci-dir:${flat}:latest`, `${await outDir()}/`, cache(), [
        '--preset',
        'wsl',
        '--os',
        'linux',
        '--arch',
        'x86_64',
      ]),
    );
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('an unknown disk type has no selector', async () => {
    const r = await runCli(
      pullArgs(`oci-dir:${flat}:latest`, `${await outDir()}/`, cache(), [
        '--preset',
        'qemu',
        '--disk-type',
        'vbox',
      ]),
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /NO_SELECTOR/);
  });

  for (const ref of [':5.5', '']) {
    it(`follows the nested index of a skopeo-style layout (oci-dir:DIR${ref})`, async () => {
      const out = await outDir();
      const r = await runCli(
        pullArgs(`oci-dir:${nested}${ref}`, `${out}/`, cache(), ['--preset', 'applehv', '--arch', 'arm64']),
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        await sha256File(join(out, 'podman-machine-default-arm64.raw')),
        disk('applehv', 'aarch64').sha256,
      );
    });
  }

  it('pull with no SOURCE uses defaultSource from the config file', async () => {
    const cwd = await outDir();
    await fsp.writeFile(
      join(cwd, '.ocipullrc.json'),
      JSON.stringify({ defaultSource: `oci-dir:${flat}:latest`, preset: 'hyperv', arch: 'x86_64' }),
    );
    const r = await runCli(['pull', '--cache-dir', cache(), '--json', '--progress', 'none'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.output, join(cwd, 'podman-machine-default-amd64.vhdx'));
    assert.equal(await sha256File(result.output), disk('hyperv', 'x86_64').sha256);
  });

  it('a preset of your own adds a disk type through disk-select options', async () => {
    const dir = await outDir();
    await buildMachineOsLayout(join(dir, 'layout'), {
      tag: 'latest',
      disks: [
        {
          diskType: 'libvirt',
          arch: 'x86_64',
          path: disk('qemu', 'x86_64').compressed,
          title: 'x.x86_64.libvirt.qcow2.zst',
        },
      ],
    });
    const preset = join(dir, 'libvirt.json');
    await fsp.writeFile(
      preset,
      JSON.stringify({
        extends: ['base'],
        plugins: [['disk-select', { diskTypes: ['libvirt'] }]],
        settings: { diskType: 'libvirt', format: 'qcow2', sparse: false },
      }),
    );
    const r = await runCli(
      pullArgs(`oci-dir:${join(dir, 'layout')}:latest`, `${dir}/`, cache(), [
        '--preset',
        preset,
        '--arch',
        'amd64',
      ]),
    );
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.diskType, 'libvirt');
    assert.equal(
      await sha256File(join(dir, 'podman-machine-default-amd64.qcow2')),
      disk('qemu', 'x86_64').sha256,
    );
  });
});
