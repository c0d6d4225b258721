/**
 * Multi-frame zstd: `pack --compress zstd` writes independent frames and a seek table; the blob
 * is one ordinary .zst for `zstd -d`; a pull from a cache hit decodes the frames in parallel,
 * byte for byte, holes kept for raw disks; a damaged seek table is ignored (the blob is then
 * streamed, which checks every frame anyway); a damaged frame is DECOMPRESS_CORRUPT, no output.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger, isOcipullError, Orchestrator, OutputFile } from 'ocipull';
import ZstdCodecPlugin from '../../plugins/codec-zstd/index.js';
import { parallelPlan, parallelStats } from '../../plugins/codec-zstd/parallel.js';
import { readSeekTable } from '../../plugins/codec-zstd/seekable.js';
import { runCli } from '../support/cli.js';
import { sha256File } from '../support/files.js';
import { buildMachineOsLayout } from '../support/machine-os.js';
import { packMachineOs } from '../support/pack.js';
import { tempDir } from '../support/paths.js';
import { MiB, rawDisk, seekableFile } from './fixtures.js';

async function pull(layout: string, out: string, cache: string) {
  return runCli([
    'pull',
    `oci:${layout}:latest`,
    '--disk-type',
    'applehv',
    '--arch',
    'x86_64',
    '-o',
    out,
    '--cache-dir',
    cache,
  ]);
}

/** Decode `blob` with the plugin as the core does for a cache hit (`blobFile` set). */
async function decodeHit(blob: string, target: string) {
  // Frames in parallel whatever the size (the default waits for 256 MiB when the tool is there).
  const orchestrator = new Orchestrator({ log: createLogger('silent') }).use(
    new ZstdCodecPlugin({ parallelMinBytes: 0 }),
  );
  const output = await OutputFile.create(target, { sparse: true, replace: false });
  const request = {
    codec: 'zstd',
    input: createReadStream(blob),
    output,
    signal: new AbortController().signal,
    log: orchestrator.log,
    blobFile: blob,
  };
  try {
    assert.ok(await parallelPlan(request), 'the blob is decoded frame by frame');
    const result = await orchestrator.hooks.decompress.get('zstd')!.promise(request);
    await output.commit();
    return result;
  } catch (error) {
    await output.discard();
    throw error;
  }
}

describe('multi-frame zstd with a seek table', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let disk: string;

  before(async () => {
    tmp = await tempDir('ocipull-seekable-');
    disk = join(tmp.dir, 'disk.raw');
    await rawDisk(disk, 'seekable', 7);
  });
  after(() => tmp.cleanup());

  it('pack --compress zstd writes frames and a seek table that zstd -d decodes unchanged', async () => {
    const dest = join(tmp.dir, 'packed');
    const packed = await packMachineOs(`oci-dir:${dest}:latest`, {
      disks: [{ diskType: 'applehv', arch: 'x86_64', path: disk }],
      compress: 'zstd',
    });
    const blob = join(dest, 'blobs', ...packed.disks[0]!.blobDigest.split(':'));
    const table = await readSeekTable(blob);
    assert.ok(table, 'the blob ends in a seek table');
    assert.equal(table.frames.length, 5);
    assert.equal(table.total, 40 * MiB);
    const decoded = join(tmp.dir, 'zstd-d.raw');
    execFileSync('zstd', ['-d', '-q', blob, '-o', decoded]);
    assert.equal(await sha256File(decoded), await sha256File(disk));
  });

  it('a pull from the cache decodes the frames in parallel, byte-identical, holes kept', async () => {
    const blob = join(tmp.dir, 'disk.raw.zst');
    await seekableFile(disk, blob);
    const layout = await buildMachineOsLayout(join(tmp.dir, 'layout'), {
      tag: 'latest',
      nested: true,
      disks: [{ diskType: 'applehv', arch: 'x86_64', path: blob }],
    });
    const cache = join(tmp.dir, 'cache');
    const first = await pull(layout.layoutDir, join(tmp.dir, 'first.raw'), cache);
    assert.equal(first.code, 0, first.stderr);
    const out = join(tmp.dir, 'hit.raw');
    const second = await pull(layout.layoutDir, out, cache);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(await sha256File(out), await sha256File(disk));
    const stat = await fsp.stat(out);
    assert.equal(stat.size, 40 * MiB);
    assert.ok(stat.blocks * 512 < 12 * MiB, `holes kept: ${stat.blocks * 512} bytes allocated`);
    // The same decode, observed: the cached blob's frames go to the parallel decoder.
    const direct = join(tmp.dir, 'direct.raw');
    assert.equal((await decodeHit(blob, direct))?.bytesWritten, 40 * MiB);
    assert.equal(await sha256File(direct), await sha256File(disk));
    assert.equal(parallelStats.frames, 5);
    // With the tool and the default threshold (256 MiB), a 40 MiB disk goes to `zstd -d` instead.
    parallelStats.frames = 0;
    const orchestrator = new Orchestrator({ log: createLogger('silent') }).use(new ZstdCodecPlugin());
    const target = join(tmp.dir, 'small.raw');
    const output = await OutputFile.create(target, { sparse: true, replace: false });
    await orchestrator.hooks.decompress.get('zstd')!.promise({
      codec: 'zstd',
      input: createReadStream(blob),
      output,
      signal: new AbortController().signal,
      log: orchestrator.log,
      blobFile: blob,
    });
    await output.commit();
    assert.equal(await sha256File(target), await sha256File(disk));
    assert.equal(parallelStats.frames, 0, 'no frame went to the workers');
  });

  it('ignores a damaged seek table: the blob is streamed and decodes byte-identical', async () => {
    const blob = join(tmp.dir, 'bad-table.raw.zst');
    await seekableFile(disk, blob);
    const bytes = await fsp.readFile(blob);
    // The footer's magic is wrong; the table is still a well-formed skippable frame.
    bytes.writeUInt32LE(0x12345678, bytes.length - 4);
    await fsp.writeFile(blob, bytes);
    assert.equal(await readSeekTable(blob), undefined);
    // A table whose sizes do not add up to the file is ignored as well.
    const shifted = Buffer.from(bytes);
    shifted.writeUInt32LE(0x8f92eab1, shifted.length - 4);
    shifted.writeUInt32LE(shifted.readUInt32LE(shifted.length - 9 - 8) + 1, shifted.length - 9 - 8);
    const shiftedPath = join(tmp.dir, 'shifted.zst');
    await fsp.writeFile(shiftedPath, shifted);
    assert.equal(await readSeekTable(shiftedPath), undefined);
    const layout = await buildMachineOsLayout(join(tmp.dir, 'layout-bad-table'), {
      tag: 'latest',
      nested: true,
      disks: [{ diskType: 'applehv', arch: 'x86_64', path: blob }],
    });
    const cache = join(tmp.dir, 'cache-bad-table');
    for (const name of ['miss.raw', 'hit.raw']) {
      const out = join(tmp.dir, `bad-table-${name}`);
      const r = await pull(layout.layoutDir, out, cache);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await sha256File(out), await sha256File(disk));
    }
  });

  it('a corrupt frame is DECOMPRESS_CORRUPT and leaves nothing at the output', async () => {
    const blob = join(tmp.dir, 'bad-frame.raw.zst');
    await seekableFile(disk, blob);
    const table = (await readSeekTable(blob))!;
    const bytes = await fsp.readFile(blob);
    const frame = table.frames[3]!;
    for (let i = 0; i < 64; i++) {
      const at = frame.offset + Math.floor(frame.compressed / 2) + i;
      bytes[at] = bytes[at]! ^ 0x5a;
    }
    await fsp.writeFile(blob, bytes);
    const target = join(tmp.dir, 'bad-frame.raw');
    await assert.rejects(decodeHit(blob, target), (error: unknown) => {
      assert.ok(isOcipullError(error, 'DECOMPRESS_CORRUPT'), String(error));
      return true;
    });
    await assert.rejects(fsp.stat(target), { code: 'ENOENT' });
    const left = (await fsp.readdir(tmp.dir)).filter((n) => n.startsWith('.bad-frame.raw.'));
    assert.deepEqual(left, []);
  });
  it('refuses a well-formed seek table that contradicts its frames: DECOMPRESS_CORRUPT, no output', async () => {
    const blob = join(tmp.dir, 'lying.raw.zst');
    await seekableFile(disk, blob);
    const good = await fsp.readFile(blob);
    const table = (await readSeekTable(blob))!;
    // Entries start 8 bytes into the table; the table is the blob's last bytes.
    const entry = (i: number) => good.length - 9 - 8 * table.frames.length + 8 * i;
    const lies: Array<[string, (b: Buffer) => void]> = [
      // One byte moved from frame 1's compressed size to frame 2's: the sizes still add up.
      [
        'compressed',
        (b) => {
          b.writeUInt32LE(b.readUInt32LE(entry(1)) - 1, entry(1));
          b.writeUInt32LE(b.readUInt32LE(entry(2)) + 1, entry(2));
        },
      ],
      // Frame 1 said to decode to 4 KiB more, frame 2 to 4 KiB less.
      [
        'decompressed',
        (b) => {
          b.writeUInt32LE(b.readUInt32LE(entry(1) + 4) + 4096, entry(1) + 4);
          b.writeUInt32LE(b.readUInt32LE(entry(2) + 4) - 4096, entry(2) + 4);
        },
      ],
    ];
    for (const [what, lie] of lies) {
      const bytes = Buffer.from(good);
      lie(bytes);
      const path = join(tmp.dir, `lying-${what}.zst`);
      await fsp.writeFile(path, bytes);
      assert.ok(await readSeekTable(path), `the ${what} lie is a well-formed table`);
      const target = join(tmp.dir, `lying-${what}.raw`);
      await assert.rejects(decodeHit(path, target), (error: unknown) => {
        assert.ok(isOcipullError(error, 'DECOMPRESS_CORRUPT'), String(error));
        assert.match((error as Error).message, /seek table entry/);
        return true;
      });
      await assert.rejects(fsp.stat(target), { code: 'ENOENT' });
    }
  });

  it('decodes a highly compressible multi-frame blob holding at most 2 MiB per worker', async () => {
    // 64 MiB of text and zeros: about 1000:1, so a whole frame is a few kilobytes of input.
    const source = join(tmp.dir, 'dense.raw');
    const text = Buffer.from('ocipull frame\n'.repeat(1 << 16));
    const handle = await fsp.open(source, 'w');
    try {
      for (let at = 0; at < 64 * MiB; at += 2 * text.length) await handle.write(text, 0, text.length, at);
      await handle.truncate(64 * MiB);
    } finally {
      await handle.close();
    }
    const blob = join(tmp.dir, 'dense.raw.zst');
    await seekableFile(source, blob);
    assert.ok((await fsp.stat(blob)).size < MiB, 'the blob is highly compressed');
    const target = join(tmp.dir, 'dense-out.raw');
    assert.equal((await decodeHit(blob, target))?.bytesWritten, 64 * MiB);
    assert.equal(await sha256File(target), await sha256File(source));
    assert.equal(parallelStats.frames, 8);
    assert.equal(parallelStats.bytes, 64 * MiB);
    assert.ok(parallelStats.workers >= 1);
    assert.ok(parallelStats.maxHeldBytes > 0);
    assert.ok(
      parallelStats.maxHeldBytes <= 2 * MiB,
      `a worker held ${parallelStats.maxHeldBytes} bytes at once (bound: 1 MiB input + 1 MiB output)`,
    );
  });
});
