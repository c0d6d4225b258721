import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliPath } from '../support/paths.js';

/** What a pull from a layout through the cache needs. */
export const CACHE_PLUGINS = ['oci-dir', 'disk-select', 'unpack-blob', 'unpack-tar', 'codec-zstd', 'cache'];

/** Path of the partial download of `digest` in a cache directory. */
export function partialPath(cacheDir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return join(cacheDir, 'ocipull', 'partials', algorithm!, hex!);
}

export function blobPath(cacheDir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return join(cacheDir, 'blobs', algorithm!, hex!);
}

export async function sizeOf(path: string): Promise<number> {
  try {
    return (await fsp.stat(path)).size;
  } catch {
    return -1;
  }
}

/** Start the CLI without waiting for it (to kill it). */
export function startCli(args: string[], cwd: string): ChildProcess {
  return spawn(process.execPath, [cliPath, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Poll until `check` is true (or fail after `timeoutMs`). */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      return resolve({ code: child.exitCode, signal: child.signalCode });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}
