/**
 * The kernel kind end to end: packages written as kraftkit writes them are pulled; ocipull packs
 * and merges through the real registry, skopeo reads it back, a pull is byte-identical; inspect
 * lists the targets; copy keeps them; a broken layer leaves nothing at the output.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { run } from '../support/disks.js';
import { sha256Digest } from '../support/independent.js';
import { writeKraftPackage } from '../support/kraft-package.js';
import { tempDir } from '../support/paths.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

describe('kernel packages (--kind kernel)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let registry: TestRegistry;
  const env = () => ({ HOME: join(dir, 'home'), REGISTRY_AUTH_FILE: '', DOCKER_CONFIG: join(dir, 'docker') });
  const cli = (args: string[]) =>
    runCli(
      args[0] === 'pull' || args[0] === 'inspect' ? [...args, '--cache-dir', join(dir, 'cache')] : args,
      {
        env: env(),
      },
    );
  const kernel = Buffer.from('MZ a kernel for the test '.repeat(3000));
  const initrd = Buffer.from('070701 an initrd '.repeat(2000));

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-kernel-'));
    registry = await startRegistry(join(dir, 'registry'));
    await fsp.writeFile(join(dir, 'vmlinuz'), kernel);
    await fsp.writeFile(join(dir, 'initrd.img'), initrd);
  });
  after(async () => {
    await registry?.stop();
    await cleanup();
  });

  test('pulls a package written as kraftkit writes it (nested per-package index): DIR/kernel, DIR/initrd, the command line', async () => {
    const layout = join(dir, 'kraft');
    await writeKraftPackage(
      layout,
      'latest',
      'nginx',
      [
        {
          plat: 'qemu',
          arch: 'x86_64',
          kernel,
          initrd,
          version: '6.1.0',
          cmd: ['console=ttyS0', 'quiet'],
          env: ['A=1'],
        },
        { plat: 'firecracker', arch: 'x86_64', kernel: Buffer.from('fc kernel'), features: ['CONFIG_X=y'] },
      ],
      { nested: true, work: dir },
    );
    const out = join(dir, 'boot-qemu');
    const r = await cli([
      'pull',
      `oci-dir:${layout}:latest`,
      '--kind',
      'kernel',
      '--platform',
      'qemu/amd64',
      '-o',
      out,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await fsp.readFile(join(out, 'kernel')), kernel);
    assert.deepEqual(await fsp.readFile(join(out, 'initrd')), initrd);
    assert.deepEqual((await fsp.readdir(out)).sort(), ['initrd', 'kernel']);
    const result = JSON.parse(r.stdout);
    assert.equal(result.output, out);
    assert.equal(result.facts.cmdline, 'console=ttyS0 quiet');
    assert.deepEqual(result.facts.env, ['A=1']);
    assert.equal(result.facts.kernelVersion, '6.1.0');
    assert.deepEqual(result.facts.files, ['kernel', 'initrd']);

    const fc = join(dir, 'boot-fc');
    const f = await cli([
      'pull',
      `oci-dir:${layout}:latest`,
      '--preset',
      'firecracker',
      '--arch',
      'x86_64',
      '--feature',
      'CONFIG_X=y',
      '-o',
      fc,
      '-q',
    ]);
    assert.equal(f.code, 0, f.stderr);
    assert.deepEqual(await fsp.readdir(fc), ['kernel']);
    assert.equal(await fsp.readFile(join(fc, 'kernel'), 'utf8'), 'fc kernel');

    const none = await cli([
      'pull',
      `oci-dir:${layout}:latest`,
      '--kind',
      'kernel',
      '--platform',
      'xen/x86_64',
      '-o',
      join(dir, 'none'),
    ]);
    assert.equal(none.code, 3, none.stderr);
    assert.match(none.stderr, /NO_MATCHING_KERNEL/);
    assert.match(none.stderr, /qemu\/x86_64 kernel 6\.1\.0/);
    await assert.rejects(fsp.stat(join(dir, 'none')), { code: 'ENOENT' });
  });

  test('a corrupt initrd layer fails the pull and leaves nothing at DIR (nor a staging directory)', async () => {
    const layout = join(dir, 'broken');
    const pkg = await writeKraftPackage(
      layout,
      'latest',
      'x',
      // Bytes of their own: layers another test pulled would come from the cache.
      [{ plat: 'qemu', arch: 'x86_64', kernel, initrd: Buffer.from('another initrd '.repeat(900)) }],
      { work: dir },
    );
    const blob = join(layout, 'blobs', 'sha256', pkg.targets[0]!.initrdLayer!.slice(7));
    const bytes = await fsp.readFile(blob);
    bytes[600] = bytes[600]! ^ 0xff;
    await fsp.writeFile(blob, bytes);
    const parent = join(dir, 'broken-out');
    await fsp.mkdir(parent);
    const r = await cli([
      'pull',
      `oci-dir:${layout}:latest`,
      '--kind',
      'kernel',
      '--platform',
      'qemu/x86_64',
      '-o',
      join(parent, 'boot'),
    ]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /DIGEST_MISMATCH/);
    assert.deepEqual(await fsp.readdir(parent), []);
  });

  test('pack → the real registry, merged by target; skopeo reads index and config; pull is byte-identical; inspect lists targets; copy keeps them', async () => {
    const ref = `docker://${registry.addr}/kernels/linux:6.1`;
    const pack = (args: string[]) => cli(['pack', ref, '--kind', 'kernel', '--json', ...args]);
    const qemuBuild = [
      '--kernel',
      join(dir, 'vmlinuz'),
      '--initrd',
      join(dir, 'initrd.img'),
      '--platform',
      'qemu/x86_64',
      '--kernel-version',
      '6.1.0',
      '--cmd',
      'console=ttyS0',
      '--cmd',
      'panic=-1',
      '--env',
      'TERM=linux',
      '--name',
      'linux',
    ];
    const one = await pack(qemuBuild);
    assert.equal(one.code, 0, one.stderr);
    const two = await pack([
      '--kernel',
      join(dir, 'vmlinuz'),
      '--platform',
      'firecracker/x86_64',
      '--name',
      'linux',
    ]);
    assert.equal(two.code, 0, two.stderr);
    // The same target again replaces its entry; the other target is kept.
    const again = await pack(qemuBuild);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).replaced, 1);
    assert.equal(JSON.parse(again.stdout).kept, 1);
    // --exit-on-conflict refuses an existing tag and changes nothing; --overwrite (another tag) holds only the new build.
    const before = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', ref]);
    const refused = await pack([
      '--kernel',
      join(dir, 'vmlinuz'),
      '--platform',
      'xen/x86_64',
      '--exit-on-conflict',
    ]);
    assert.equal(refused.code, 8, refused.stderr);
    assert.match(refused.stderr, /TAG_CONFLICT/);
    assert.equal(await run('skopeo', ['inspect', '--raw', '--tls-verify=false', ref]), before);
    const other = `docker://${registry.addr}/kernels/linux:only-xen`;
    for (const platform of ['qemu/x86_64', 'xen/x86_64']) {
      const r = await cli([
        'pack',
        other,
        '--kind',
        'kernel',
        '--kernel',
        join(dir, 'vmlinuz'),
        '--platform',
        platform,
        '--overwrite',
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    const onlyXen = JSON.parse(await run('skopeo', ['inspect', '--raw', '--tls-verify=false', other]));
    assert.deepEqual(
      onlyXen.manifests.map((m: { platform: { os: string } }) => m.platform.os),
      ['xen'],
    );

    const rawIndex = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', ref]);
    const index = JSON.parse(rawIndex);
    const platforms = index.manifests.map((m: { platform: { os: string } }) => m.platform.os).sort();
    assert.deepEqual(platforms, ['firecracker', 'qemu']);
    const qemuEntry = index.manifests.find((m: { platform: { os: string } }) => m.platform.os === 'qemu');
    assert.equal(qemuEntry.platform['os.version'], '6.1.0');
    const manifest = JSON.parse(
      await run('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${registry.addr}/kernels/linux@${qemuEntry.digest}`,
      ]),
    );
    assert.deepEqual(
      manifest.layers.map((l: { annotations: unknown; mediaType: string }) => [l.mediaType, l.annotations]),
      [
        ['application/vnd.oci.image.layer.v1.tar', { 'org.unikraft.kernel.image': '/unikraft/bin/kernel' }],
        ['application/vnd.oci.image.layer.v1.tar', { 'org.unikraft.kernel.initrd': '/unikraft/bin/initrd' }],
      ],
    );
    assert.equal(manifest.annotations['org.unikraft.image.name'], 'linux');
    const config = JSON.parse(
      await run('skopeo', [
        'inspect',
        '--config',
        '--raw',
        '--tls-verify=false',
        `docker://${registry.addr}/kernels/linux@${qemuEntry.digest}`,
      ]),
    );
    assert.deepEqual(config.config.Cmd, ['console=ttyS0', 'panic=-1']);
    assert.deepEqual(
      config.rootfs.diff_ids,
      manifest.layers.map((l: { digest: string }) => l.digest),
    );
    assert.equal(config.os, 'qemu');

    const out = join(dir, 'pulled');
    const pulled = await cli([
      'pull',
      ref,
      '--kind',
      'kernel',
      '--platform',
      'qemu/x86_64',
      '-o',
      out,
      '--json',
    ]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(sha256Digest(await fsp.readFile(join(out, 'kernel'))), sha256Digest(kernel));
    assert.deepEqual(await fsp.readFile(join(out, 'initrd')), initrd);
    assert.equal(JSON.parse(pulled.stdout).facts.cmdline, 'console=ttyS0 panic=-1');

    const inspected = await cli(['inspect', ref, '--kind', 'kernel', '--json']);
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.match(inspected.stdout, /firecracker\/x86_64/);
    assert.match(inspected.stdout, /qemu\/x86_64/);
    assert.match(inspected.stdout, /6\.1\.0/);

    const copied = join(dir, 'copied');
    const c = await cli(['copy', ref, `oci-dir:${copied}:6.1`, '--kind', 'kernel']);
    assert.equal(c.code, 0, c.stderr);
    const top = JSON.parse(await fsp.readFile(join(copied, 'index.json'), 'utf8'));
    assert.equal(top.manifests[0].digest, sha256Digest(Buffer.from(rawIndex)));
    const fromCopy = await cli([
      'pull',
      `oci-dir:${copied}:6.1`,
      '--kind',
      'kernel',
      '--platform',
      'firecracker/x86_64',
      '-o',
      join(dir, 'fc-copy'),
      '-q',
    ]);
    assert.equal(fromCopy.code, 0, fromCopy.stderr);
    assert.deepEqual(await fsp.readFile(join(dir, 'fc-copy', 'kernel')), kernel);
  });
});
