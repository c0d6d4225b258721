/**
 * `cache export` of an entry whose cached disk no longer hashes to its digest fails with
 * CACHE_CORRUPT and leaves nothing at DEST (the layout is staged beside DEST and renamed at the end).
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../support/cli.js';
import { writeIndependentLayout } from '../support/independent-layout.js';
import { tempDir } from '../support/paths.js';
import { blobPath } from './helpers.js';

test('cache export of a corrupted entry: CACHE_CORRUPT, nothing at DEST, the entry removed', async (t) => {
  const { dir, cleanup } = await tempDir('ocipull-export-corrupt-');
  t.after(cleanup);
  const src = await writeIndependentLayout(join(dir, 'src'), '5.5', [
    {
      diskType: 'qemu',
      arch: 'x86_64',
      bytes: Buffer.alloc(48 * 1024, 0x44),
      mediaType: 'application/octet-stream',
      title: 'podman-machine.x86_64.qemu.raw',
    },
  ]);
  const cache = join(dir, 'cache');
  const reference = `oci-dir:${join(dir, 'src')}:5.5`;
  const pulled = await runCli([
    'pull',
    reference,
    '--disk-type',
    'qemu',
    '--arch',
    'amd64',
    '-o',
    join(dir, 'out.raw'),
    '--cache-dir',
    cache,
  ]);
  assert.equal(pulled.code, 0, pulled.stderr);

  // A good export first: the layout is written.
  const good = join(dir, 'good');
  const ok = await runCli(['cache', 'export', reference, `oci-dir:${good}:5.5`, '--cache-dir', cache]);
  assert.equal(ok.code, 0, ok.stderr);
  await fsp.access(join(good, 'index.json'));

  // Overwrite bytes of the cached disk in place (same size, different content).
  const blob = blobPath(cache, src.disks[0]!.blobDigest);
  const handle = await fsp.open(blob, 'r+');
  await handle.write(Buffer.from('corrupted!'), 0, 10, 100);
  await handle.close();

  const dest = join(dir, 'dest');
  const r = await runCli(['cache', 'export', reference, `oci-dir:${dest}:5.5`, '--cache-dir', cache]);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /CACHE_CORRUPT/);
  assert.match(r.stderr, new RegExp(`the cached disk ${src.disks[0]!.blobDigest}`));
  assert.match(r.stderr, /nothing was written at/);
  await assert.rejects(fsp.access(dest), { code: 'ENOENT' });
  assert.deepEqual(
    (await fsp.readdir(dir)).filter((n) => n.startsWith('dest')),
    [],
    'no staging directory left beside DEST',
  );
  await assert.rejects(fsp.access(blob), { code: 'ENOENT' });
});
