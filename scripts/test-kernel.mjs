#!/usr/bin/env node
/**
 * The Linux kernel the boot test starts under qemu (test/kernel/boot.test.ts): Debian's cloud
 * kernel, fetched once with `apt-get download` and unpacked with `dpkg-deb -x` (nothing is
 * installed on the machine), kept at $OCIPULL_TEST_KERNEL_DIR or the user's cache. Called by
 * .ci/run and test/run.js before any test, as the Debian packages are.
 *
 *   node scripts/test-kernel.mjs     prints the kernel's path; exit 1 saying why when it cannot
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The metapackage whose dependency names the current cloud kernel. */
export const KERNEL_METAPACKAGE = 'linux-image-cloud-amd64';

export function testKernelDir() {
  if (process.env.OCIPULL_TEST_KERNEL_DIR) return process.env.OCIPULL_TEST_KERNEL_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'ocipull-test', 'kernel');
}

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}): ${(result.stderr ?? '').trim().slice(-400)}`,
    );
  }
  return result.stdout;
}

/** The path of the test kernel, fetching it first when it is not there yet. */
export function ensureTestKernel() {
  const dir = testKernelDir();
  const kernel = join(dir, 'vmlinuz');
  if (existsSync(kernel)) return kernel;
  const depends = run('apt-cache', ['depends', KERNEL_METAPACKAGE]);
  const name = /Depends:\s*(linux-image-\S+)/.exec(depends)?.[1];
  if (!name) throw new Error(`apt-cache depends ${KERNEL_METAPACKAGE} names no linux-image package`);
  const work = mkdtempSync(join(tmpdir(), 'ocipull-kernel-'));
  try {
    run('apt-get', ['download', '-q', name], work);
    const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${name} left no .deb`);
    run('dpkg-deb', ['-x', deb, 'root'], work);
    const vmlinuz = readdirSync(join(work, 'root', 'boot')).find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) throw new Error(`${deb} holds no /boot/vmlinuz-*`);
    mkdirSync(dir, { recursive: true });
    const staged = join(dir, `.vmlinuz.${process.pid}`);
    copyFileSync(join(work, 'root', 'boot', vmlinuz), staged);
    renameSync(staged, kernel);
    return kernel;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    console.log(ensureTestKernel());
  } catch (error) {
    console.error(`test-kernel: cannot fetch the kernel the boot test needs: ${error.message}`);
    process.exit(1);
  }
}
