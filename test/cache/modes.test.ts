/**
 * The cache is private to its owner: after a pull every directory in it is 0700 and every file
 * 0600 (read with fs.stat), whatever the umask.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../support/cli.js';
import { writeIndependentLayout } from '../support/independent-layout.js';
import { tempDir } from '../support/paths.js';

async function modes(
  dir: string,
  out: [string, number, boolean][] = [],
): Promise<[string, number, boolean][]> {
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const { mode } = await fsp.stat(path);
    out.push([path, mode & 0o777, entry.isDirectory()]);
    if (entry.isDirectory()) await modes(path, out);
  }
  return out;
}

test('a pull leaves the cache with 0700 directories and 0600 files', async (t) => {
  const { dir, cleanup } = await tempDir('ocipull-cache-modes-');
  t.after(cleanup);
  await writeIndependentLayout(join(dir, 'src'), '5.5', [
    {
      diskType: 'qemu',
      arch: 'x86_64',
      bytes: Buffer.alloc(32 * 1024, 0x33),
      mediaType: 'application/octet-stream',
      title: 'podman-machine.x86_64.qemu.raw',
    },
  ]);
  const cache = join(dir, 'cache');
  const r = await runCli([
    'pull',
    `oci-dir:${join(dir, 'src')}:5.5`,
    '--disk-type',
    'qemu',
    '--arch',
    'amd64',
    '-o',
    join(dir, 'out.raw'),
    '--cache-dir',
    cache,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await fsp.stat(cache)).mode & 0o777, 0o700);
  const all = await modes(cache);
  assert.ok(
    all.some(([, , isDir]) => !isDir),
    'the cache holds files',
  );
  const wrong = all.filter(([, mode, isDir]) => mode !== (isDir ? 0o700 : 0o600));
  assert.deepEqual(
    wrong.map(([p, m]) => `${p.slice(cache.length)} ${m.toString(8)}`),
    [],
  );
});
