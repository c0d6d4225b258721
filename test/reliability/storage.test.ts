/**
 * Hostile storage, through the real CLI: cache entries whose first bytes were overwritten, full
 * filesystems (small tmpfs mounts) under the output and the cache, cache directories that are not
 * usable directories, and device nodes, FIFOs and sockets at the output path (all made inside the
 * test's own temp directory: the machine's own devices are never touched).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp, type Stats } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../support/cli.js';
import { compress } from '../support/disks.js';
import { prngBytes } from '../support/files.js';
import { LOOP_FILL, withLoopDevice } from '../support/loop-device.js';
import { buildMachineOsLayout, type MachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';
import { verifyCache } from './cache-check.js';
import { ran } from './figures.js';
import { exists, sha256File } from './support.js';

const MiB = 1 << 20;

/** A raw disk: random data around a run of zeros (so sparse writes make a hole). */
async function rawDisk(path: string, dataMiB: number): Promise<string> {
  const data = prngBytes(dataMiB * MiB, 1);
  await fsp.writeFile(
    path,
    Buffer.concat([
      data.subarray(0, data.length >> 1),
      Buffer.alloc(4 * MiB),
      data.subarray(data.length >> 1),
    ]),
  );
  return path;
}

/** Run `body` with a `sizeMiB` tmpfs mounted at a new directory `dir` (unmounted after, whatever happens). */
async function withTmpfs<T>(dir: string, sizeMiB: number, body: () => Promise<T>): Promise<T> {
  await fsp.mkdir(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir]);
  try {
    return await body();
  } finally {
    execFileSync('umount', [dir]);
  }
}

/** Every file under `dir` (recursively), relative names. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

function blobFile(cacheDir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return join(cacheDir, 'blobs', algorithm!, hex!);
}

/** No stack trace, no unhandled event: a failure is one coded message. */
function noCrash(stderr: string): void {
  assert.doesNotMatch(stderr, /Unhandled|node:events|^\s+at /m, stderr);
}

describe('hostile storage', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disk = '';
  let blob: MachineOsLayout;
  let tarred: MachineOsLayout;
  let xz: MachineOsLayout;
  let n = 0;

  before(async () => {
    tmp = await tempDir('ocipull-storage-');
    disk = await rawDisk(join(tmp.dir, 'disk.raw'), 4);
    const zst = await compress(disk, 'zstd');
    const disks = [{ diskType: 'applehv', arch: 'x86_64' as const, path: zst }];
    blob = await buildMachineOsLayout(join(tmp.dir, 'blob'), { tag: 'latest', nested: true, disks });
    xz = await buildMachineOsLayout(join(tmp.dir, 'xz'), {
      tag: 'latest',
      nested: true,
      disks: [{ diskType: 'applehv', arch: 'x86_64', path: await compress(disk, 'xz') }],
    });
    tarred = await buildMachineOsLayout(join(tmp.dir, 'tar'), {
      tag: 'latest',
      nested: true,
      oneFileTar: true,
      disks,
    });
  });
  after(() => tmp.cleanup());

  const fresh = (what: string) => join(tmp.dir, `${what}-${++n}`);
  const pull = (layout: MachineOsLayout, args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(
      [
        'pull',
        `oci-dir:${layout.layoutDir}:latest`,
        '--arch',
        'x86_64',
        '--disk-type',
        'applehv',
        '--progress',
        'none',
        ...args,
      ],
      { cwd: tmp.dir, env },
    );

  it('a cache entry whose first bytes were overwritten is evicted: refetched online, CACHE_CORRUPT offline', async () => {
    let refused = 0;
    for (const layout of [blob, tarred]) {
      const cache = fresh('cache');
      const first = await pull(layout, ['-o', fresh('out'), '--cache-dir', cache]);
      assert.equal(first.code, 0, first.stderr);
      const entry = blobFile(cache, layout.disks[0]!.blobDigest);
      const good = await fsp.readFile(entry);
      // The disk's first bytes (after the tar header when the layer is a tar) made unrecognisable.
      const at = layout === tarred ? 512 : 0;
      const corrupt = Buffer.from(good);
      corrupt.fill(0x5a, at, at + 16);
      await fsp.writeFile(entry, corrupt);

      const offlineOut = fresh('out');
      const offline = await pull(layout, ['-o', offlineOut, '--cache-dir', cache, '--offline']);
      noCrash(offline.stderr);
      assert.equal(offline.code, 5, offline.stderr);
      assert.match(offline.stderr, /CACHE_CORRUPT/);
      assert.match(offline.stderr, /was corrupt and has been removed; --offline cannot download it again/);
      assert.equal(await exists(entry), false, 'evicted');
      assert.equal(await exists(offlineOut), false, 'no output');
      refused++;

      await fsp.writeFile(entry, corrupt);
      const out = fresh('out');
      const online = await pull(layout, ['-o', out, '--cache-dir', cache]);
      noCrash(online.stderr);
      assert.equal(online.code, 0, online.stderr);
      assert.match(online.stderr, /was corrupt and has been removed; downloading it again/);
      assert.equal(await sha256File(out), await sha256File(disk), 'byte-identical');
      assert.deepEqual(await fsp.readFile(entry), good, 'the entry is good again');
      await verifyCache(cache);
    }
    ran('storage.corrupt-head', { refused });
  });

  it('a full filesystem under the output is OUTPUT_FAILED naming it, with child and in-process decoders', async () => {
    let refused = 0;
    const full = fresh('full');
    await withTmpfs(full, 2, async () => {
      for (const layout of [blob, xz]) {
        for (const mode of ['child', 'inprocess']) {
          const out = join(full, 'disk.raw');
          const result = await pull(layout, ['-o', out, '--cache-dir', fresh('cache')], {
            OCIPULL_CODEC_MODE: mode,
          });
          noCrash(result.stderr);
          assert.equal(result.code, 8, `${mode}: ${result.stderr}`);
          assert.match(result.stderr, /OUTPUT_FAILED/);
          assert.doesNotMatch(result.stderr, /DECOMPRESS_CORRUPT|published damaged/);
          assert.ok(
            result.stderr.includes(`no space left on the filesystem holding ${full} (ENOSPC)`),
            result.stderr,
          );
          assert.match(result.stderr, /bytes free, after .* written/);
          assert.deepEqual(await filesUnder(full), [], 'nothing left on the full filesystem');
          refused++;
        }
      }
    });
    ran('storage.output-full', { refused });
  });

  it('a full filesystem under the cache is CACHE_FAILED naming it and the bytes the blob needs', async () => {
    let refused = 0;
    const full = fresh('full');
    await withTmpfs(full, 2, async () => {
      for (const mode of ['child', 'inprocess']) {
        const cache = join(full, `cache-${mode}`);
        const out = fresh('out');
        const result = await pull(blob, ['-o', out, '--cache-dir', cache], { OCIPULL_CODEC_MODE: mode });
        noCrash(result.stderr);
        assert.equal(result.code, 8, `${mode}: ${result.stderr}`);
        assert.match(result.stderr, /CACHE_FAILED/);
        assert.ok(
          result.stderr.includes(`no space left on the filesystem holding ${cache} (ENOSPC)`),
          result.stderr,
        );
        assert.ok(
          result.stderr.includes(`(${blob.disks[0]!.blobSize} bytes) needed`),
          `the blob's size is named: ${result.stderr}`,
        );
        assert.equal(await exists(out), false, 'no output');
        await verifyCache(cache);
        assert.deepEqual(
          (await filesUnder(cache)).filter((f) => f.includes('partials')),
          [],
          'a partial that could not be recorded is dropped',
        );
        await fsp.rm(cache, { recursive: true });
        refused++;
      }
    });
    ran('storage.cache-full', { refused });
  });

  it('a --cache-dir that is not a usable directory is CACHE_FAILED saying what is wrong with it', async () => {
    const base = fresh('bad');
    await fsp.mkdir(base);
    const file = join(base, 'file');
    await fsp.writeFile(file, 'not a directory');
    const dangling = join(base, 'dangling');
    await fsp.symlink(join(base, 'nowhere'), dangling);
    const readonly = join(base, 'readonly');
    await fsp.mkdir(readonly);
    const cases: Array<[string, RegExp]> = [
      [file, /is a plain file, not a directory/],
      [dangling, /is a symlink to .*nowhere, which does not exist/],
      [join(file, 'cache'), /is a plain file, not a directory/],
      [join(readonly, 'cache'), /is on a read-only filesystem/],
    ];
    // Root writes anywhere: a read-only bind mount is what refuses it.
    execFileSync('mount', ['--bind', readonly, readonly]);
    let refused = 0;
    try {
      execFileSync('mount', ['-o', 'remount,bind,ro', readonly]);
      for (const [dir, what] of cases) {
        const out = fresh('out');
        const result = await pull(blob, ['-o', out, '--cache-dir', dir]);
        noCrash(result.stderr);
        assert.equal(result.code, 8, result.stderr);
        assert.match(result.stderr, /CACHE_FAILED/);
        assert.ok(result.stderr.includes(`cache ${dir}: cannot`), result.stderr);
        assert.match(result.stderr, what);
        assert.equal(await exists(out), false);
        refused++;
      }
    } finally {
      execFileSync('umount', [readonly]);
    }
    assert.equal(await fsp.readFile(file, 'utf8'), 'not a directory', 'the file is untouched');
    ran('storage.cache-dir', { refused });
  });

  it('cache prune on a read-only cache is CACHE_FAILED and removes nothing', async () => {
    const cache = fresh('cache');
    const first = await pull(blob, ['-o', fresh('out'), '--cache-dir', cache]);
    assert.equal(first.code, 0, first.stderr);
    // Locks live in the cache: without them nothing may be removed.
    await fsp.rm(join(cache, 'ocipull', 'locks'), { recursive: true, force: true });
    execFileSync('mount', ['--bind', cache, cache]);
    let prune: Awaited<ReturnType<typeof runCli>>;
    try {
      execFileSync('mount', ['-o', 'remount,bind,ro', cache]);
      prune = await runCli(['cache', 'prune', '--all', '--cache-dir', cache], { cwd: tmp.dir });
    } finally {
      execFileSync('umount', [cache]);
    }
    noCrash(prune.stderr);
    assert.equal(prune.code, 8, prune.stderr);
    assert.match(prune.stderr, /CACHE_FAILED/);
    assert.match(prune.stderr, /is on a read-only filesystem/);
    const ls = await runCli(['cache', 'ls', '--json', '--cache-dir', cache], { cwd: tmp.dir });
    assert.equal(JSON.parse(ls.stdout).entries.length, 1, 'the entry is still listed');
    await verifyCache(cache);
    ran('storage.prune-readonly', { refused: 1 });
  });

  it("another user's stale temp files and lock debris never block a pull", async () => {
    const shared = fresh('shared');
    await fsp.mkdir(shared, { mode: 0o1777 });
    await fsp.chmod(shared, 0o1777);
    let dead = 4_194_000;
    while (alive(dead)) dead--;
    // A dead run's temp that is a directory, and one that cannot be removed (immutable), both another user's.
    const asDir = join(shared, `.disk.raw.${dead}-0badc0de.ocipull-tmp`);
    await fsp.mkdir(asDir);
    await fsp.writeFile(join(asDir, 'inside'), 'x');
    const stuck = join(shared, `.disk.raw.${dead}-deadbeef.ocipull-tmp`);
    await fsp.writeFile(stuck, 'stale');
    for (const p of [asDir, stuck]) await fsp.chown(p, 65534, 65534);
    execFileSync('chattr', ['+i', stuck]);
    // A plain file where the blob's lock directory goes, old enough to look stale.
    const cache = fresh('cache');
    const [algorithm, hex] = blob.disks[0]!.blobDigest.split(':');
    const lock = join(cache, 'ocipull', 'locks', algorithm!, `${hex}.lock`);
    await fsp.mkdir(join(lock, '..'), { recursive: true });
    await fsp.writeFile(lock, 'debris');
    await fsp.chown(lock, 65534, 65534);
    await fsp.utimes(lock, new Date(2020, 0, 1), new Date(2020, 0, 1));
    try {
      const out = join(shared, 'disk.raw');
      const result = await pull(blob, ['-o', out, '--cache-dir', cache]);
      noCrash(result.stderr);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await sha256File(out), await sha256File(disk), 'byte-identical');
      assert.ok(await exists(stuck), 'what cannot be removed is skipped');
      await verifyCache(cache);
    } finally {
      execFileSync('chattr', ['-i', stuck]);
    }
    ran('storage.stale-temps', {});
  });

  it('a character device, FIFO or socket at -o is OUTPUT_NOT_FILE, with or without --replace, and survives', async () => {
    let refused = 0;
    const dir = fresh('nodes');
    await fsp.mkdir(dir);
    const chr = join(dir, 'null');
    execFileSync('mknod', [chr, 'c', '1', '3']);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const sock = join(dir, 'sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      const nodes: [string, string, (s: Stats) => boolean][] = [
        [chr, 'character device', (s) => s.isCharacterDevice()],
        [fifo, 'FIFO', (s) => s.isFIFO()],
        [sock, 'socket', (s) => s.isSocket()],
      ];
      for (const [path, kind, is] of nodes) {
        for (const replace of [[], ['--replace']]) {
          const result = await pull(blob, ['-o', path, '--cache-dir', fresh('cache'), ...replace]);
          noCrash(result.stderr);
          assert.equal(result.code, 8, result.stderr);
          assert.match(result.stderr, /OUTPUT_NOT_FILE/);
          assert.ok(result.stderr.includes(`${path} is a ${kind}`), result.stderr);
          assert.ok(is(await fsp.lstat(path)), `${path} is still a ${kind}`);
          assert.deepEqual(await filesUnder(dir), ['fifo', 'null', 'sock'].sort(), 'no temp file');
          refused++;
        }
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    ran('storage.special-output', { refused });
  });

  it('a block device at -o is written in place with --replace (child and in-process), refused when too small or without --replace', async () => {
    let refused = 0;
    const want = await fsp.readFile(disk);
    /** A loop device over a temp file, with its node in a fresh dir; no temp file may be left. */
    const withLoop = (bytes: number, body: (node: string, backing: string) => Promise<void>) => {
      const dir = fresh('blk');
      return withLoopDevice(dir, bytes, async (node, backing) => {
        await body(node, backing);
        assert.deepEqual(await filesUnder(dir), ['backing', 'dev'], 'no temp file');
      });
    };
    for (const mode of ['child', 'inprocess']) {
      await withLoop(want.length + 2 * MiB, async (node, backing) => {
        const result = await pull(blob, ['-o', node, '--replace', '--cache-dir', fresh('cache')], {
          OCIPULL_CODEC_MODE: mode,
        });
        noCrash(result.stderr);
        assert.equal(result.code, 0, `${mode}: ${result.stderr}`);
        const bytes = await fsp.readFile(backing);
        assert.ok(bytes.subarray(0, want.length).equals(want), `${mode}: the device holds the disk`);
        assert.ok(
          bytes.subarray(want.length).every((b) => b === LOOP_FILL),
          `${mode}: past the disk untouched`,
        );
      });
      await withLoop(MiB, async (node, backing) => {
        const result = await pull(blob, ['-o', node, '--replace', '--cache-dir', fresh('cache')], {
          OCIPULL_CODEC_MODE: mode,
        });
        noCrash(result.stderr);
        assert.equal(result.code, 8, `${mode}: ${result.stderr}`);
        assert.match(result.stderr, /OUTPUT_FAILED/);
        assert.ok(
          result.stderr.includes(`the disk is larger than the ${MiB}-byte block device`),
          result.stderr,
        );
        assert.equal((await fsp.stat(backing)).size, MiB);
        refused++;
      });
    }
    await withLoop(want.length, async (node, backing) => {
      const result = await pull(blob, ['-o', node, '--cache-dir', fresh('cache')]);
      noCrash(result.stderr);
      assert.equal(result.code, 8, result.stderr);
      assert.match(result.stderr, /OUTPUT_EXISTS/);
      assert.ok(
        (await fsp.readFile(backing)).every((b) => b === LOOP_FILL),
        'nothing written',
      );
      refused++;
    });
    ran('storage.block-device', { refused });
  });
});
