/**
 * `cache prune --all` while a pull holds an entry: the entry stays, and so do the documents that
 * lead to it, so what `cache ls` still lists can still be exported; once free, everything goes.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tryLock } from '../../plugins/cache/lock.js';
import { runCli } from '../support/cli.js';
import { writeIndependentLayout } from '../support/independent-layout.js';
import { tempDir } from '../support/paths.js';
import { blobPath } from './helpers.js';

test('prune --all keeps the documents of an entry in use, and ls lists only what is kept', async (t) => {
  const { dir, cleanup } = await tempDir('ocipull-prune-in-use-');
  t.after(cleanup);
  const disk = { mediaType: 'application/octet-stream', diskType: 'qemu' };
  const src = await writeIndependentLayout(join(dir, 'src'), '5.5', [
    {
      ...disk,
      arch: 'x86_64',
      bytes: Buffer.alloc(40 * 1024, 0x55),
      title: 'podman-machine.x86_64.qemu.raw',
    },
    {
      ...disk,
      arch: 'aarch64',
      bytes: Buffer.alloc(40 * 1024, 0x66),
      title: 'podman-machine.aarch64.qemu.raw',
    },
  ]);
  const cache = join(dir, 'cache');
  const reference = `oci-dir:${join(dir, 'src')}:5.5`;
  for (const arch of ['amd64', 'arm64']) {
    const r = await runCli([
      'pull',
      reference,
      '--disk-type',
      'qemu',
      '--arch',
      arch,
      '-o',
      join(dir, `out-${arch}.raw`),
      '--cache-dir',
      cache,
    ]);
    assert.equal(r.code, 0, r.stderr);
  }
  const [amd, arm] = src.disks;
  const ls = async () =>
    (
      JSON.parse((await runCli(['cache', 'ls', '--json', '--cache-dir', cache])).stdout) as {
        entries: { digest: string }[];
      }
    ).entries.map((e) => e.digest);
  assert.deepEqual((await ls()).sort(), [amd!.blobDigest, arm!.blobDigest].sort());

  // A pull is using the amd64 disk: it holds that digest's lock.
  const hex = amd!.blobDigest.slice('sha256:'.length);
  const release = await tryLock(join(cache, 'ocipull', 'locks', 'sha256', `${hex}.lock`), 60_000);
  assert.ok(release, 'the test holds the lock');
  try {
    const pruned = await runCli(['cache', 'prune', '--all', '--json', '--cache-dir', cache]);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.deepEqual(
      (JSON.parse(pruned.stdout) as { entries: { digest: string }[] }).entries.map((e) => e.digest),
      [arm!.blobDigest],
    );
    assert.deepEqual(await ls(), [amd!.blobDigest]);
    // The documents leading to the listed disk are still there.
    await fsp.access(blobPath(cache, src.indexDigest));
    await fsp.access(blobPath(cache, amd!.manifestDigest));
    await assert.rejects(fsp.access(blobPath(cache, arm!.blobDigest)), { code: 'ENOENT' });
    const out = join(dir, 'exported');
    const exported = await runCli(['cache', 'export', reference, `oci-dir:${out}:5.5`, '--cache-dir', cache]);
    assert.equal(exported.code, 0, exported.stderr);
  } finally {
    await release();
  }
  const again = await runCli(['cache', 'prune', '--all', '--cache-dir', cache]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(await ls(), []);
  await assert.rejects(fsp.access(blobPath(cache, src.indexDigest)), { code: 'ENOENT' });
});

test('prune leaves the record of a blob being committed (its lock held, the rename not done yet)', async (t) => {
  const { dir, cleanup } = await tempDir('ocipull-prune-commit-');
  t.after(cleanup);
  const cache = join(dir, 'cache');
  const digest = `sha256:${'ab'.repeat(32)}`;
  const hex = digest.slice('sha256:'.length);
  const records = join(cache, 'ocipull', 'records', 'sha256');
  await fsp.mkdir(records, { recursive: true });
  const record = join(records, `${hex}.json`);
  const now = new Date().toISOString();
  const body = {
    digest,
    size: 4,
    mediaType: 'application/octet-stream',
    sources: [],
    created: now,
    lastUsed: now,
  };
  await fsp.writeFile(record, JSON.stringify(body));
  // A commit writes the record, then renames the blob into place, holding the digest's lock.
  const release = await tryLock(join(cache, 'ocipull', 'locks', 'sha256', `${hex}.lock`), 60_000);
  assert.ok(release, 'the test holds the lock');
  try {
    const pruned = await runCli(['cache', 'prune', '--cache-dir', cache]);
    assert.equal(pruned.code, 0, pruned.stderr);
    await fsp.access(record);
    // The commit completes: the entry is whole and listed.
    await fsp.mkdir(join(cache, 'blobs', 'sha256'), { recursive: true });
    await fsp.writeFile(blobPath(cache, digest), 'disk');
  } finally {
    await release();
  }
  const ls = await runCli(['cache', 'ls', '--json', '--cache-dir', cache]);
  assert.deepEqual(
    (JSON.parse(ls.stdout) as { entries: { digest: string }[] }).entries.map((e) => e.digest),
    [digest],
  );
  // Without its blob and without the lock, the record is an orphan: prune removes it.
  await fsp.rm(blobPath(cache, digest));
  const again = await runCli(['cache', 'prune', '--cache-dir', cache]);
  assert.equal(again.code, 0, again.stderr);
  await assert.rejects(fsp.access(record), { code: 'ENOENT' });
});
