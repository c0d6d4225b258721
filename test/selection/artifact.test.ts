import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  Annotations,
  type Descriptor,
  EMPTY_DESCRIPTOR,
  isOcipullError,
  LayoutStore,
  MediaTypes,
} from 'ocipull';
import { runCli } from '../support/cli.js';
import { buildMachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';
import { type TarEntry, tarOf } from '../support/tar.js';
import {
  entries,
  layoutOf,
  makeSourceDisks,
  pullArgs,
  pullInProcess,
  type SourceDisk,
  sha256File,
} from './layouts.js';

/** A layout whose `latest` tag is an index with one qemu x86_64 entry built from `layers`. */
async function customLayout(
  dir: string,
  layers: { bytes: Buffer; mediaType: string; title?: string }[],
): Promise<string> {
  const store = await LayoutStore.init(dir);
  const descriptors: Descriptor[] = [];
  for (const layer of layers) {
    const info = await store.putBlob(layer.bytes);
    descriptors.push({
      mediaType: layer.mediaType,
      ...info,
      ...(layer.title ? { annotations: { [Annotations.title]: layer.title } } : {}),
    });
  }
  const manifest = await store.putJson(
    { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: EMPTY_DESCRIPTOR, layers: descriptors },
    MediaTypes.ociManifest,
  );
  const entry = {
    ...manifest,
    platform: { architecture: 'x86_64', os: 'linux' },
    annotations: { [Annotations.diskType]: 'qemu' },
  };
  const index = await store.putJson(
    { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [entry] },
    MediaTypes.ociIndex,
  );
  await store.addManifest(index, { tag: 'latest' });
  return dir;
}

describe('artifact rules and the one-file tar layer, end to end', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let qemu: SourceDisk;
  let wsl: SourceDisk;
  let n = 0;
  const fresh = async () => {
    const dir = join(tmp.dir, `case-${++n}`);
    await fsp.mkdir(dir);
    return dir;
  };
  const cacheDir = () => join(tmp.dir, 'cache');
  const cli = (layout: string, out: string, extra: string[] = []) =>
    runCli(
      pullArgs(`oci-dir:${layout}:latest`, out, cacheDir(), [
        '--preset',
        'qemu',
        '--arch',
        'x86_64',
        ...extra,
      ]),
    );
  const pull = (layout: string, out: string, allowMissingTitle?: boolean) =>
    pullInProcess(`oci-dir:${layout}:latest`, out, {
      preset: 'qemu',
      arch: 'x86_64',
      cacheDir: cacheDir(),
      allowMissingTitle,
    });

  before(async () => {
    tmp = await tempDir('ocipull-artifact-');
    const src = join(tmp.dir, 'src');
    await fsp.mkdir(src);
    const all = await makeSourceDisks(src);
    qemu = all.find((d) => d.diskType === 'qemu' && d.arch === 'x86_64')!;
    wsl = all.find((d) => d.diskType === 'wsl' && d.arch === 'x86_64')!;
  });
  after(() => tmp.cleanup());

  async function expectRefused(layout: string, code: string) {
    const dir = await fresh();
    await assert.rejects(pull(layout, `${dir}/`), (error) => {
      assert.ok(isOcipullError(error), String(error));
      assert.equal(error.code, code, error.message);
      return true;
    });
    assert.deepEqual(await fsp.readdir(dir), [], 'nothing is left at the output');
  }

  for (const gzip of [false, true]) {
    for (const titled of [true, false]) {
      it(`pulls the one-file ${gzip ? 'gzip ' : ''}tar format${titled ? '' : ' without a title'}`, async () => {
        const dir = await fresh();
        const layout = await layoutOf(join(dir, 'layout'), [qemu], {
          oneFileTar: gzip ? 'gzip' : true,
          disks: entries([qemu], titled ? {} : { noTitle: true }),
        });
        const result = await pull(layout.layoutDir, `${dir}/`);
        assert.equal(result.output, join(dir, 'podman-machine-default-amd64.qcow2'));
        assert.equal(await sha256File(result.output), qemu.sha256);
      });
    }
  }

  it('an uncompressed wsl disk (itself a tar) is written as is, not unpacked', async () => {
    const dir = await fresh();
    const layout = await buildMachineOsLayout(join(dir, 'layout'), {
      tag: 'latest',
      disks: [{ diskType: 'wsl', arch: 'x86_64', path: wsl.plain }],
    });
    assert.equal(layout.disks[0]!.title, 'podman-machine.x86_64.wsl.tar');
    const result = await pullInProcess(`oci-dir:${layout.layoutDir}:latest`, `${dir}/`, {
      preset: 'wsl',
      arch: 'x86_64',
      cacheDir: cacheDir(),
    });
    assert.equal(result.output, join(dir, 'podman-machine-default-amd64.tar'));
    assert.equal(await sha256File(result.output), wsl.sha256);
  });

  it('a layer without title is ARTIFACT_NO_TITLE, accepted with --allow-missing-title', async () => {
    const dir = await fresh();
    const layout = (
      await layoutOf(join(dir, 'layout'), [qemu], { disks: entries([qemu], { noTitle: true }) })
    ).layoutDir;
    await expectRefused(layout, 'ARTIFACT_NO_TITLE');
    const out = await fresh();
    await pull(layout, `${out}/`, true);
    assert.equal(
      await sha256File(join(out, 'podman-machine-default-amd64.qcow2')),
      qemu.sha256,
      'named by the preset format',
    );
  });

  for (const title of ['disk.zst', '../podman-machine.x86_64.qemu.qcow2.zst', 'disk']) {
    it(`title ${JSON.stringify(title)} is ARTIFACT_TITLE_INVALID`, async () => {
      const dir = await fresh();
      const layout = (await layoutOf(join(dir, 'layout'), [qemu], { disks: entries([qemu], { title }) }))
        .layoutDir;
      await expectRefused(layout, 'ARTIFACT_TITLE_INVALID');
    });
  }

  it('two layers are ARTIFACT_LAYER_COUNT', async () => {
    const bytes = await fsp.readFile(qemu.compressed);
    const layout = await customLayout(join(await fresh(), 'layout'), [
      { bytes, mediaType: 'application/zstd', title: 'a.qcow2.zst' },
      { bytes: Buffer.from('second'), mediaType: 'application/octet-stream', title: 'b.qcow2' },
    ]);
    await expectRefused(layout, 'ARTIFACT_LAYER_COUNT');
  });

  it('on the command line: the tar format pulls, a violation exits 7 with its code and leaves nothing', async () => {
    const dir = await fresh();
    const layout = await layoutOf(join(dir, 'layout'), [qemu], {
      oneFileTar: 'gzip',
      disks: entries([qemu]),
    });
    const ok = await cli(layout.layoutDir, join(dir, 'disk.qcow2'));
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await sha256File(join(dir, 'disk.qcow2')), qemu.sha256);
    const bad = await layoutOf(join(dir, 'bad'), [qemu], { disks: entries([qemu], { noTitle: true }) });
    const out = await fresh();
    const r = await cli(bad.layoutDir, `${out}/`);
    assert.equal(r.code, 7, r.stderr);
    assert.equal(JSON.parse(r.stdout).error.code, 'ARTIFACT_NO_TITLE');
    assert.match(r.stderr, /--allow-missing-title/);
    assert.deepEqual(await fsp.readdir(out), []);
  });

  const data = Buffer.from('not really a disk');
  const tars: { what: string; list: TarEntry[]; code: string }[] = [
    {
      what: 'two files',
      list: [
        { header: { name: 'a.qcow2', type: 'file' }, content: data },
        { header: { name: 'b.qcow2', type: 'file' }, content: data },
      ],
      code: 'TAR_MULTIPLE_ENTRIES',
    },
    {
      what: 'a symlink',
      list: [{ header: { name: 'a.qcow2', type: 'symlink', linkname: '/dev/sda' } }],
      code: 'TAR_ENTRY_NOT_REGULAR',
    },
    {
      what: 'a directory',
      list: [{ header: { name: 'images/', type: 'directory' } }],
      code: 'TAR_ENTRY_NOT_REGULAR',
    },
    {
      what: 'an absolute path',
      list: [{ header: { name: '/a.qcow2', type: 'file' }, content: data }],
      code: 'TAR_UNSAFE_PATH',
    },
    {
      what: 'a .. path',
      list: [{ header: { name: '../a.qcow2', type: 'file' }, content: data }],
      code: 'TAR_UNSAFE_PATH',
    },
    { what: 'no entry', list: [], code: 'TAR_EMPTY' },
  ];
  for (const c of tars) {
    for (const gzip of [false, true]) {
      it(`a ${gzip ? 'gzip ' : ''}tar layer with ${c.what} is ${c.code}`, async () => {
        const bytes = await tarOf(c.list);
        const layout = await customLayout(join(await fresh(), 'layout'), [
          {
            bytes: gzip ? gzipSync(bytes) : bytes,
            mediaType: gzip ? MediaTypes.ociLayerTarGzip : MediaTypes.ociLayerTar,
          },
        ]);
        await expectRefused(layout, c.code);
      });
    }
  }
});
