import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LayoutStore } from 'ocipull';
import { runCli } from '../support/cli.js';
import type { MachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.js';
import { RegistryTap } from '../support/registry-tap.js';
import { layoutOf, makeSourceDisks, pullArgs, type SourceDisk, sha256File } from './layouts.js';

interface InspectJson {
  source: string;
  digest: string;
  disks: {
    digest: string;
    diskType: string;
    title: string;
    size: number;
    mediaType: string;
    platform: { os: string; architecture: string };
  }[];
  containerImages: {
    digest: string;
    platform: { os: string; architecture: string };
    mediaType: string;
    diskType?: string;
  }[];
}

describe('ocipull inspect (and the default tag over docker://, against the real registry)', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disks: SourceDisk[];
  let flat: MachineOsLayout;
  let nested: MachineOsLayout;
  let registry: TestRegistry;
  /** A transparent tap in front of the real registry, recording requests. */
  let fake: RegistryTap;

  before(async () => {
    tmp = await tempDir('ocipull-inspect-');
    const src = join(tmp.dir, 'src');
    await fsp.mkdir(src);
    disks = await makeSourceDisks(src);
    flat = await layoutOf(join(tmp.dir, 'flat'), disks);
    nested = await layoutOf(join(tmp.dir, 'nested'), disks, { nested: true, tag: '5.5' });
    registry = await startRegistry(join(tmp.dir, 'registry'));
    await pushLayout(nested.layoutDir, '5.5', registry.addr, 'podman/machine-os');
    fake = await RegistryTap.start(registry.addr);
  });
  after(async () => {
    await fake?.stop();
    await registry?.stop();
    await tmp.cleanup();
  });

  function checkReport(report: InspectJson, layout: MachineOsLayout) {
    assert.equal(report.disks.length, layout.disks.length);
    for (const built of layout.disks) {
      const row = report.disks.find((d) => d.digest === built.manifestDigest);
      assert.ok(row, `${built.diskType} ${built.arch} listed`);
      assert.equal(row.diskType, built.diskType);
      assert.deepEqual(row.platform, { os: 'linux', architecture: built.arch });
      assert.equal(row.title, built.title);
      assert.equal(row.size, built.blobSize);
      assert.equal(row.mediaType, 'application/zstd');
    }
    assert.deepEqual(report.containerImages.map((c) => c.platform.architecture).sort(), ['amd64', 'arm64']);
    for (const c of report.containerImages) {
      assert.equal(c.diskType, undefined);
      assert.equal(c.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    }
  }

  it('prints the disks as a table, container images apart (oci-dir)', async () => {
    const r = await runCli(['inspect', `oci-dir:${flat.layoutDir}:latest`]);
    assert.equal(r.code, 0, r.stderr);
    const [disksPart, containersPart] = r.stdout.split('Container images');
    assert.ok(containersPart, r.stdout);
    assert.match(disksPart!, /DISKTYPE\s+PLATFORM\s+TITLE\s+SIZE\s+MEDIA TYPE\s+DIGEST/);
    for (const built of flat.disks) {
      const line = disksPart!.split('\n').find((l) => l.includes(built.manifestDigest));
      assert.ok(line, `row for ${built.diskType} ${built.arch}`);
      assert.match(
        line,
        new RegExp(
          `^\\s+${built.diskType}\\s+linux/${built.arch}\\s+${built.title.replaceAll('.', '\\.')}\\s`,
        ),
      );
    }
    assert.match(containersPart, /\(2, never pulled as disks\)/);
    assert.match(containersPart, /linux\/amd64/);
    assert.match(containersPart, /linux\/arm64/);
    assert.ok(!/linux\/(amd64|arm64)/.test(disksPart!), 'container images are not among the disks');
  });

  it('--json over oci-dir, flat and nested', async () => {
    for (const [layout, ref] of [
      [flat, `oci-dir:${flat.layoutDir}:latest`],
      [nested, `oci-dir:${nested.layoutDir}:5.5`],
    ] as const) {
      const r = await runCli(['inspect', ref, '--json']);
      assert.equal(r.code, 0, r.stderr);
      checkReport(JSON.parse(r.stdout), layout);
    }
  });

  it('--json over docker://, an untagged reference getting <major>.<minor> of machineOsVersion', async () => {
    const cwd = join(tmp.dir, 'cwd-inspect');
    await fsp.mkdir(cwd);
    await fsp.writeFile(join(cwd, '.ocipullrc.json'), JSON.stringify({ machineOsVersion: '5.5.7' }));
    const r = await runCli(['inspect', `docker://${fake.addr}/podman/machine-os`, '--json'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    const report: InspectJson = JSON.parse(r.stdout);
    assert.match(report.source, /podman\/machine-os:5\.5$/);
    assert.equal(report.digest, nested.indexDigest);
    checkReport(report, nested);
  });

  it('pull with no SOURCE: defaultSource over docker:// tagged from machineOsVersion', async () => {
    const cwd = join(tmp.dir, 'cwd-pull');
    await fsp.mkdir(cwd);
    await fsp.writeFile(
      join(cwd, '.ocipullrc.json'),
      JSON.stringify({
        defaultSource: `docker://${fake.addr}/podman/machine-os`,
        machineOsVersion: '5.5.0',
        preset: 'qemu',
        arch: 'aarch64',
      }),
    );
    const r = await runCli(['pull', '--cache-dir', join(tmp.dir, 'cache'), '--json', '--progress', 'none'], {
      cwd,
    });
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.match(result.source, /podman\/machine-os:5\.5$/);
    const expected = disks.find((d) => d.diskType === 'qemu' && d.arch === 'aarch64')!;
    assert.equal(await sha256File(join(cwd, 'podman-machine-default-arm64.qcow2')), expected.sha256);
    // An explicit but untagged SOURCE gets the same tag.
    const explicit = pullArgs(
      `docker://${fake.addr}/podman/machine-os`,
      join(cwd, 'x.qcow2'),
      join(tmp.dir, 'cache'),
    );
    const other = await runCli(explicit, { cwd });
    assert.equal(other.code, 0, other.stderr);
    assert.equal(await sha256File(join(cwd, 'x.qcow2')), expected.sha256);
  });

  it('--offline answers from the cache a pull filled, without the network', async () => {
    const cache = join(tmp.dir, 'cache-offline');
    const pulled = await runCli(
      pullArgs(`docker://${fake.addr}/podman/machine-os:5.5`, join(tmp.dir, 'offline.qcow2'), cache, [
        '--preset',
        'qemu',
        '--arch',
        'x86_64',
      ]),
    );
    assert.equal(pulled.code, 0, pulled.stderr);
    const before = fake.requests.length;
    const r = await runCli([
      'inspect',
      `docker://${fake.addr}/podman/machine-os:5.5`,
      '--offline',
      '--cache-dir',
      cache,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fake.requests.length, before, 'no request reached the registry');
    const report: InspectJson = JSON.parse(r.stdout);
    assert.equal(report.digest, nested.indexDigest);
    assert.equal(report.disks.length, nested.disks.length);
    const qemu = nested.disks.find((d) => d.diskType === 'qemu' && d.arch === 'x86_64')!;
    const row = report.disks.find((d) => d.digest === qemu.manifestDigest)!;
    assert.equal(row.title, qemu.title, 'the pulled disk is described from the cache');
    const missing = await runCli([
      'inspect',
      `docker://${fake.addr}/podman/machine-os:5.5`,
      '--offline',
      '--cache-dir',
      join(tmp.dir, 'empty-cache'),
      '--json',
    ]);
    assert.equal(missing.code, 3, missing.stderr);
    assert.equal(JSON.parse(missing.stdout).error.code, 'OFFLINE');
  });

  it('a tag naming one disk manifest (no index) lists it as a disk, disktype from its title', async () => {
    const lone = join(tmp.dir, 'lone');
    await fsp.cp(nested.layoutDir, lone, { recursive: true });
    const qemu = nested.disks.find((d) => d.diskType === 'qemu' && d.arch === 'aarch64')!;
    const { mediaType, digest, size } = qemu.descriptor;
    await (await LayoutStore.init(lone)).addManifest({ mediaType, digest, size }, { tag: 'one' });
    const r = await runCli(['inspect', `oci-dir:${lone}:one`, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report: InspectJson = JSON.parse(r.stdout);
    assert.equal(report.containerImages.length, 0);
    assert.equal(report.disks.length, 1);
    assert.equal(report.disks[0]!.diskType, 'qemu');
    assert.equal(report.disks[0]!.title, qemu.title);
    assert.equal(report.disks[0]!.size, qemu.blobSize);
  });

  it('a digest reference is left alone', async () => {
    const r = await runCli([
      'inspect',
      `docker://${fake.addr}/podman/machine-os@${nested.indexDigest}`,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).digest, nested.indexDigest);
    const tags = fake.requests.filter((q) => q.kind === 'manifest').map((q) => q.reference);
    assert.ok(tags.includes(nested.indexDigest));
  });

  it('a missing tag fails with its code', async () => {
    const r = await runCli(['inspect', `docker://${fake.addr}/podman/machine-os:9.9`, '--json']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(JSON.parse(r.stdout).error.code, /TAG_NOT_FOUND|MANIFEST_NOT_FOUND/);
  });
});
