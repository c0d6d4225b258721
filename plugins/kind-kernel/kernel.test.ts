import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Descriptor, LoadedDocument } from 'ocipull';
import { kraftLayer, writeKraftPackage } from '../../test/support/kraft-package.js';
import { extractFile } from './extract.js';
import { packKernel } from './pack.js';
import { chooseEntry, kernelEntries, kernelLayers } from './select.js';
import { targetKey } from './target.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function layoutLoader(layoutDir: string) {
  const read = async (d: Descriptor) => fsp.readFile(join(layoutDir, 'blobs', 'sha256', d.digest.slice(7)));
  const load = async (d: Descriptor): Promise<LoadedDocument> => {
    const bytes = await read(d);
    const doc = JSON.parse(bytes.toString());
    return doc.manifests
      ? { kind: 'index', descriptor: d, index: doc, bytes }
      : { kind: 'manifest', descriptor: d, manifest: doc, bytes };
  };
  const top = JSON.parse(await fsp.readFile(join(layoutDir, 'index.json'), 'utf8'));
  return { load, root: await load(top.manifests[0]) };
}

const signal = new AbortController().signal;

describe('kernel kind: reading packages as kraftkit writes them', () => {
  let work: string;
  before(async () => {
    work = await fsp.mkdtemp(join(tmpdir(), 'ocipull-kernel-'));
  });
  after(() => fsp.rm(work, { recursive: true, force: true }));

  for (const nested of [false, true]) {
    it(`lists every target and chooses by platform, architecture, version and features${nested ? ' (nested per-package index)' : ''}`, async () => {
      const dir = join(work, `layout-${nested}`);
      await writeKraftPackage(
        dir,
        'latest',
        'hello',
        [
          {
            plat: 'qemu',
            arch: 'x86_64',
            kernel: Buffer.from('K-qemu'),
            initrd: Buffer.from('I-qemu'),
            version: '6.1',
          },
          {
            plat: 'firecracker',
            arch: 'x86_64',
            kernel: Buffer.from('K-fc'),
            features: ['CONFIG_B=y', 'CONFIG_A=y'],
          },
          { plat: 'qemu', arch: 'arm64', kernel: Buffer.from('K-arm') },
        ],
        { nested, work },
      );
      const { load, root } = await layoutLoader(dir);
      const entries = await kernelEntries(root, load);
      assert.deepEqual(
        entries.map((e) => `${e.target.platform}/${e.target.architecture}`),
        ['qemu/x86_64', 'firecracker/x86_64', 'qemu/arm64'],
      );
      // amd64 ≡ x86_64, aarch64 ≡ arm64
      assert.equal(
        chooseEntry(entries, { platform: 'qemu', architecture: 'aarch64' }, 'x').target.architecture,
        'arm64',
      );
      assert.equal(
        chooseEntry(entries, { platform: 'qemu', architecture: 'amd64', version: '6.1' }, 'x').target.version,
        '6.1',
      );
      const fc = chooseEntry(
        entries,
        { platform: 'firecracker', architecture: 'x86_64', features: ['CONFIG_A=y'] },
        'x',
      );
      assert.deepEqual(fc.target.features, ['CONFIG_A=y', 'CONFIG_B=y']);
      assert.throws(
        () => chooseEntry(entries, { platform: 'xen', architecture: 'x86_64' }, 'oci-dir:x'),
        (e: Error & { code?: string; hint?: string }) =>
          e.code === 'NO_MATCHING_KERNEL' &&
          /xen\/x86_64/.test(e.message) &&
          /qemu\/x86_64 kernel 6\.1, firecracker\/x86_64 \[CONFIG_A=y CONFIG_B=y\], qemu\/arm64/.test(
            e.hint ?? '',
          ),
      );
      assert.throws(
        () => chooseEntry(entries, { platform: 'qemu', architecture: 'x86_64', version: '5.10' }, 'x'),
        /NO_MATCHING_KERNEL|no kernel for qemu\/x86_64 kernel 5\.10/,
      );
      const manifest = await load(entries[0]!.descriptor);
      assert.equal(manifest.kind, 'manifest');
      const layers = kernelLayers((manifest as Extract<LoadedDocument, { kind: 'manifest' }>).manifest, 'x');
      assert.equal(layers.kernel.annotations?.['org.unikraft.kernel.image'], '/unikraft/bin/kernel');
      assert.equal(layers.initrd?.annotations?.['org.unikraft.kernel.initrd'], '/unikraft/bin/initrd');
    });
  }

  it('takes the file out of a layer written by GNU tar, with or without the leading /', async () => {
    const bytes = Buffer.from('a kernel image\n'.repeat(1000));
    for (const path of ['/unikraft/bin/kernel', 'unikraft/bin/kernel', './unikraft/bin/kernel']) {
      const target = join(work, `k-${path.replace(/\W/g, '_')}`);
      const n = await extractFile({
        input: Readable.from([await kraftLayer(work, 'kernel', bytes)]),
        path,
        target,
        what: 'kernel layer',
        signal,
      });
      assert.equal(n, bytes.length);
      assert.deepEqual(await fsp.readFile(target), bytes);
    }
  });

  it('refuses a layer that holds another file, or nothing usable (KERNEL_PACKAGE_INVALID)', async () => {
    const tarOf = async (name: string) => kraftLayer(work, name, Buffer.from('x'));
    await assert.rejects(
      extractFile({
        input: Readable.from([await tarOf('initrd')]),
        path: '/unikraft/bin/kernel',
        target: join(work, 'no1'),
        what: 'kernel layer',
        signal,
      }),
      (e: Error & { code?: string }) =>
        e.code === 'KERNEL_PACKAGE_INVALID' && /unikraft\/bin\/initrd/.test(e.message),
    );
    await assert.rejects(
      extractFile({
        input: Readable.from([Buffer.alloc(1024)]),
        path: '/unikraft/bin/kernel',
        target: join(work, 'no2'),
        what: 'kernel layer',
        signal,
      }),
      (e: Error & { code?: string }) => e.code === 'KERNEL_PACKAGE_INVALID' && /holds no/.test(e.message),
    );
    await assert.rejects(fsp.stat(join(work, 'no1')), { code: 'ENOENT' });
  });
});

describe('kernel kind: pack entries', () => {
  let work: string;
  before(async () => {
    work = await fsp.mkdtemp(join(tmpdir(), 'ocipull-kernel-pack-'));
    await fsp.writeFile(join(work, 'vmlinuz'), Buffer.from('kernel bytes '.repeat(4000)));
    await fsp.writeFile(join(work, 'initrd'), Buffer.from('initrd bytes '.repeat(100)));
  });
  after(() => fsp.rm(work, { recursive: true, force: true }));
  const request = (inputs: Record<string, unknown>) => ({
    inputs,
    codecs: {} as never,
    platform: { os: 'linux', architecture: 'x86_64' },
    settings: {} as never,
    signal,
    log: { level: 'silent', error() {}, warn() {}, info() {}, debug() {}, redact() {} } as never,
  });

  it('writes kraftkit layers (one file at the well-known path, zeroed times and owners) and a config with Cmd, Env and diff_ids', async () => {
    const inputs = {
      kernel: join(work, 'vmlinuz'),
      initrd: join(work, 'initrd'),
      platform: 'qemu/amd64',
      kernelVersion: '6.1.0',
      cmd: ['console=ttyS0', 'quiet'],
      env: ['A=1'],
      features: ['CONFIG_Z=y', 'CONFIG_A=m'],
      name: 'linux',
    };
    const [entry] = await packKernel(request(inputs));
    assert.ok(entry);
    assert.deepEqual(entry.platform, {
      architecture: 'x86_64',
      os: 'qemu',
      'os.version': '6.1.0',
      'os.features': ['CONFIG_A=m', 'CONFIG_Z=y'],
    });
    const tars = [];
    for (const layer of entry.layers) {
      const chunks = [];
      for await (const c of await layer.open!()) chunks.push(c as Buffer);
      tars.push(Buffer.concat(chunks));
    }
    const listing = (tar: Buffer) =>
      execFileSync('tar', ['-tv', '--numeric-owner', '-P', '--full-time'], { input: tar }).toString().trim();
    assert.match(listing(tars[0]!), /^-rw-r--r-- 0\/0 +52000 1970-01-01 00:00:00 \/unikraft\/bin\/kernel$/);
    assert.match(listing(tars[1]!), /\/unikraft\/bin\/initrd$/);
    assert.deepEqual(
      execFileSync('tar', ['-xO', '-P', '-f', '-', '/unikraft/bin/kernel'], { input: tars[0]! }),
      await fsp.readFile(join(work, 'vmlinuz')),
    );
    assert.deepEqual(
      entry.layers.map((l) => l.annotations),
      [
        { 'org.unikraft.kernel.image': '/unikraft/bin/kernel' },
        { 'org.unikraft.kernel.initrd': '/unikraft/bin/initrd' },
      ],
    );
    const config = JSON.parse(entry.config!.bytes.toString());
    assert.deepEqual(config.rootfs.diff_ids, tars.map(sha));
    assert.deepEqual(config.config, { Cmd: ['console=ttyS0', 'quiet'], Env: ['A=1'] });
    assert.equal(config.os, 'qemu');
    assert.equal(entry.manifestAnnotations?.['org.unikraft.image.name'], 'linux');
    assert.equal(entry.manifestAnnotations?.['org.unikraft.kernel.version'], '6.1.0');
    // The same inputs make the same layers.
    const [again] = await packKernel(request(inputs));
    assert.deepEqual(JSON.parse(again!.config!.bytes.toString()).rootfs, config.rootfs);
  });

  it('refuses a platform that is not PLAT/ARCH, a feature that is not KEY=VALUE, a missing kernel (PACK_INPUT_INVALID)', async () => {
    const kernel = join(work, 'vmlinuz');
    for (const [inputs, pattern] of [
      [{ kernel, platform: 'x86_64' }, /--platform "x86_64" is not PLAT\/ARCH/],
      [{ kernel, platform: 'qemu/x86_64', features: ['CONFIG_A'] }, /--feature "CONFIG_A" is not KEY=VALUE/],
      [
        { kernel: join(work, 'absent'), platform: 'qemu/x86_64' },
        /--kernel .*absent is not a readable regular file/,
      ],
      [{ platform: 'qemu/x86_64' }, /no kernel to pack/],
    ] as const) {
      await assert.rejects(
        packKernel(request(inputs)),
        (e: Error & { code?: string }) => e.code === 'PACK_INPUT_INVALID' && pattern.test(e.message),
      );
    }
  });

  it('a target is its platform, architecture (either naming), version and sorted features', () => {
    const key = (platform: Record<string, unknown>) =>
      targetKey({ mediaType: 'x', digest: 'x', size: 1, platform: platform as never });
    assert.equal(key({ os: 'qemu', architecture: 'amd64' }), key({ os: 'qemu', architecture: 'x86_64' }));
    assert.equal(
      key({ os: 'qemu', architecture: 'x86_64', 'os.features': ['B=1', 'A=1'] }),
      key({ os: 'qemu', architecture: 'x86_64', 'os.features': ['A=1', 'B=1'] }),
    );
    assert.notEqual(
      key({ os: 'qemu', architecture: 'x86_64', 'os.version': '1' }),
      key({ os: 'qemu', architecture: 'x86_64' }),
    );
    assert.notEqual(
      key({ os: 'qemu', architecture: 'x86_64' }),
      key({ os: 'firecracker', architecture: 'x86_64' }),
    );
    assert.equal(key({}), undefined);
  });
});
