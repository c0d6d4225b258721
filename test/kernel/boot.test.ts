/**
 * What was pulled boots: Debian's cloud kernel (fetched by scripts/test-kernel.mjs, never
 * installed) and a busybox initramfs made here are packed, pushed to the real registry, pulled
 * with --kind kernel, and started under qemu-system-x86_64 (TCG) with the pulled command line
 * until the init prints the line this test expects.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { runCli } from '../support/cli.js';
import { repoRoot, tempDir } from '../support/paths.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

const { ensureTestKernel } = (await import(
  pathToFileURL(join(repoRoot, 'scripts', 'test-kernel.mjs')).href
)) as {
  ensureTestKernel(): string;
};

/** A gzip'd newc cpio whose /init prints `line` and powers the machine off. */
async function busyboxInitramfs(dir: string, line: string): Promise<string> {
  const root = join(dir, 'initramfs');
  await fsp.mkdir(join(root, 'bin'), { recursive: true });
  await fsp.mkdir(join(root, 'proc'));
  await fsp.copyFile('/bin/busybox', join(root, 'bin', 'busybox'));
  await fsp.chmod(join(root, 'bin', 'busybox'), 0o755);
  await fsp.writeFile(
    join(root, 'init'),
    `#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc\n/bin/busybox echo "${line} cmdline=$(/bin/busybox cat /proc/cmdline)"\n/bin/busybox poweroff -f\n`,
    { mode: 0o755 },
  );
  const cpio = execFileSync('sh', ['-c', 'find . | cpio -o -H newc --quiet | gzip -n'], {
    cwd: root,
    maxBuffer: 1 << 28,
  });
  const path = join(dir, 'initrd.gz');
  await fsp.writeFile(path, cpio);
  return path;
}

/** Run qemu until `line` appears on the serial console (or it exits); returns the console output. */
function boot(kernel: string, initrd: string, cmdline: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const qemu = spawn(
      'qemu-system-x86_64',
      [
        '-accel',
        'tcg',
        '-m',
        '256',
        '-nographic',
        '-no-reboot',
        '-kernel',
        kernel,
        '-initrd',
        initrd,
        '-append',
        cmdline,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const timer = setTimeout(() => qemu.kill('SIGKILL'), 120_000);
    const take = (d: Buffer) => {
      output += d.toString('latin1');
      // The whole line, up to its end, before the machine is stopped.
      if (new RegExp(`${line}[^\n]*\n`).test(output)) qemu.kill('SIGKILL');
    };
    qemu.stdout.on('data', take);
    qemu.stderr.on('data', take);
    qemu.on('error', reject);
    qemu.on('close', () => {
      clearTimeout(timer);
      resolve(output);
    });
  });
}

describe('a pulled kernel package boots under qemu', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let registry: TestRegistry;
  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-boot-'));
    registry = await startRegistry(join(dir, 'registry'));
  });
  after(async () => {
    await registry?.stop();
    await cleanup();
  });

  test('Debian cloud kernel + busybox initramfs: pack → push → pull → qemu prints the init line', async () => {
    const kernel = process.env.OCIPULL_TEST_KERNEL ?? ensureTestKernel();
    const line = `OCIPULL-BOOTED-${randomUUID()}`;
    const initrd = await busyboxInitramfs(dir, line);
    const env = { HOME: join(dir, 'home'), REGISTRY_AUTH_FILE: '', DOCKER_CONFIG: join(dir, 'docker') };
    const ref = `docker://${registry.addr}/kernels/debian-cloud:latest`;
    const packed = await runCli(
      [
        'pack',
        ref,
        '--kind',
        'kernel',
        '--kernel',
        kernel,
        '--initrd',
        initrd,
        '--platform',
        'qemu/x86_64',
        '--cmd',
        'console=ttyS0',
        '--cmd',
        'panic=-1',
        '--cmd',
        'quiet',
        '--name',
        'debian-cloud',
      ],
      { env },
    );
    assert.equal(packed.code, 0, packed.stderr);
    const out = join(dir, 'boot');
    const pulled = await runCli(
      [
        'pull',
        ref,
        '--preset',
        'qemu-kernel',
        '--arch',
        'x86_64',
        '-o',
        out,
        '--json',
        '--cache-dir',
        join(dir, 'cache'),
      ],
      { env },
    );
    assert.equal(pulled.code, 0, pulled.stderr);
    const result = JSON.parse(pulled.stdout);
    assert.equal(result.facts.cmdline, 'console=ttyS0 panic=-1 quiet');
    assert.deepEqual(await fsp.readFile(join(out, 'kernel')), await fsp.readFile(kernel));
    const console = await boot(join(out, 'kernel'), join(out, 'initrd'), result.facts.cmdline, line);
    assert.ok(
      console.includes(line),
      `the init's line is on the console; it shows:\n${console.slice(-2000)}`,
    );
    assert.match(console, new RegExp(`${line} cmdline=console=ttyS0 panic=-1 quiet`));
  });
});
