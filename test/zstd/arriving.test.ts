/**
 * Multi-frame zstd on a cold pull (no cached blob): the frames are split from the stream as it
 * arrives and decoded on all cores (`arrivingStats` proves the frame path ran), from a layout and
 * from the real registry, byte-identical to `zstd -d`, holes kept; a corrupt middle frame is
 * DECOMPRESS_CORRUPT with nothing at the output; frames without a content size still decode
 * right; the expansion limit stops it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger, isOcipullError, Orchestrator, OutputFile } from 'ocipull';
import { arrivingStats } from '../../plugins/codec-zstd/arriving.js';
import ZstdCodecPlugin from '../../plugins/codec-zstd/index.js';
import { readSeekTable } from '../../plugins/codec-zstd/seekable.js';
import { prngBytes, sha256File, useBuiltins } from '../support/files.js';
import { buildMachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.js';
import { MiB, rawDisk, seekableFile } from './fixtures.js';

const PLUGINS = ['oci-dir', 'registry', 'disk-select', 'unpack-blob', 'unpack-tar', 'codec-none'];

/** Frames in parallel whatever the size (the default waits for 256 MiB when the tool is there). */
const codec = () => new ZstdCodecPlugin({ parallelMinBytes: 0, arrivingFrames: true });

/** Decode `blob` with the plugin as the core does on a cold pull (no `blobFile`). */
async function decodeCold(blob: string, target: string, maxOutputBytes?: number) {
  const orchestrator = new Orchestrator({ log: createLogger('silent') }).use(codec());
  const output = await OutputFile.create(target, { sparse: true, replace: false });
  try {
    const result = await orchestrator.hooks.decompress.get('zstd')!.promise({
      codec: 'zstd',
      input: createReadStream(blob, { highWaterMark: 64 << 10 }),
      output,
      maxOutputBytes,
      signal: new AbortController().signal,
      log: orchestrator.log,
      blobSize: (await fsp.stat(blob)).size,
    });
    await output.commit();
    return result;
  } catch (error) {
    await output.discard();
    throw error;
  }
}

describe('multi-frame zstd decoded while it arrives', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let disk: string;
  let blob: string;
  let layoutDir: string;
  let registry: TestRegistry;

  before(async () => {
    tmp = await tempDir('ocipull-arriving-');
    disk = join(tmp.dir, 'disk.raw');
    await rawDisk(disk, 'arriving', 17);
    blob = join(tmp.dir, 'disk.raw.zst');
    await seekableFile(disk, blob);
    layoutDir = (
      await buildMachineOsLayout(join(tmp.dir, 'layout'), {
        tag: 'latest',
        nested: true,
        disks: [{ diskType: 'applehv', arch: 'x86_64', path: blob }],
      })
    ).layoutDir;
    registry = await startRegistry(join(tmp.dir, 'registry'));
    await pushLayout(layoutDir, 'latest', registry.addr, 'frames/os');
  });
  after(async () => {
    await registry?.stop();
    await tmp.cleanup();
  });

  const sources = () => [
    ['an oci-dir layout', `oci-dir:${layoutDir}:latest`],
    ['the registry', `docker://${registry.addr}/frames/os:latest`],
  ];
  for (const i of [0, 1]) {
    it(`a cold pull from ${i ? 'the registry' : 'an oci-dir layout'} decodes the frames as they arrive, as zstd -d does, holes kept`, async () => {
      const [, source] = sources()[i]!;
      const o = (
        await useBuiltins(
          new Orchestrator({
            log: createLogger('silent'),
            settings: { arch: 'x86_64', diskType: 'applehv', transport: { tlsVerify: false } },
          }),
          PLUGINS,
        )
      ).use(codec());
      const output = join(tmp.dir, `cold-${i}.raw`);
      const runs = arrivingStats.runs;
      await o.pull({ source: source!, output });
      const reference = join(tmp.dir, `zstd-d-${i}.raw`);
      execFileSync('zstd', ['-d', '-q', blob, '-o', reference]);
      assert.equal(await sha256File(output), await sha256File(reference));
      assert.equal(await sha256File(output), await sha256File(disk));
      assert.equal(arrivingStats.runs, runs + 1, 'the frame path ran');
      assert.equal(arrivingStats.frames, 5);
      assert.equal(arrivingStats.skipped, 1, 'the seek table was skipped');
      assert.equal(arrivingStats.bytes, 40 * MiB);
      assert.ok(arrivingStats.maxQueuedBytes <= 16 * MiB + MiB, `held ${arrivingStats.maxQueuedBytes}`);
      const stat = await fsp.stat(output);
      assert.equal(stat.size, 40 * MiB);
      assert.ok(stat.blocks * 512 < 12 * MiB, `holes kept: ${stat.blocks * 512} bytes allocated`);
    });
  }

  it('a corrupt frame in the middle is DECOMPRESS_CORRUPT and leaves nothing at the output', async () => {
    const table = (await readSeekTable(blob))!;
    const bytes = await fsp.readFile(blob);
    const frame = table.frames[2]!;
    for (let i = 0; i < 64; i++) {
      const at = frame.offset + Math.floor(frame.compressed / 2) + i;
      bytes[at] = bytes[at]! ^ 0x5a;
    }
    const bad = join(tmp.dir, 'bad.zst');
    await fsp.writeFile(bad, bytes);
    const target = join(tmp.dir, 'bad.raw');
    const runs = arrivingStats.runs;
    await assert.rejects(decodeCold(bad, target), (error: unknown) => {
      assert.ok(isOcipullError(error, 'DECOMPRESS_CORRUPT'), String(error));
      return true;
    });
    assert.equal(arrivingStats.runs, runs + 1, 'the frame path ran');
    await assert.rejects(fsp.stat(target), { code: 'ENOENT' });
    assert.deepEqual(
      (await fsp.readdir(tmp.dir)).filter((n) => n.startsWith('.bad.raw.')),
      [],
    );
  });

  it('frames without a content size still decode right (the next offset waits for them)', async () => {
    const parts = [
      prngBytes(3 * MiB, 21),
      Buffer.alloc(5 * MiB),
      Buffer.from('x'.repeat(2 * MiB + 77)),
      prngBytes(MiB, 22),
    ];
    // `zstd` reading stdin writes no content size; the first frame (given its size) has one.
    const frames = parts.map((part, i) =>
      execFileSync('zstd', ['-q', '-c', ...(i === 0 ? [`--stream-size=${part.length}`] : [])], {
        input: part,
        maxBuffer: 64 * MiB,
      }),
    );
    const mixed = join(tmp.dir, 'mixed.zst');
    await fsp.writeFile(mixed, Buffer.concat(frames));
    const target = join(tmp.dir, 'mixed.raw');
    const runs = arrivingStats.runs;
    assert.equal((await decodeCold(mixed, target))?.bytesWritten, 11 * MiB + 77);
    assert.equal(arrivingStats.runs, runs + 1, 'the frame path ran');
    assert.equal(arrivingStats.frames, 4);
    const reference = join(tmp.dir, 'mixed-zstd-d.raw');
    execFileSync('zstd', ['-d', '-q', mixed, '-o', reference]);
    assert.equal(await sha256File(target), await sha256File(reference));
  });

  it('the expansion limit stops it: EXPANSION_LIMIT, no output', async () => {
    const target = join(tmp.dir, 'limited.raw');
    await assert.rejects(decodeCold(blob, target, 20 * MiB), (error: unknown) => {
      assert.ok(isOcipullError(error, 'EXPANSION_LIMIT'), String(error));
      return true;
    });
    await assert.rejects(fsp.stat(target), { code: 'ENOENT' });
  });

  it('a one-frame blob is replayed into the single-stream decoder', async () => {
    const one = join(tmp.dir, 'one.zst');
    execFileSync('zstd', ['-q', '-3', disk, '-o', one]);
    const target = join(tmp.dir, 'one.raw');
    const runs = arrivingStats.runs;
    assert.equal((await decodeCold(one, target))?.bytesWritten, 40 * MiB);
    assert.equal(arrivingStats.runs, runs, 'the frame path did not run');
    assert.equal(await sha256File(target), await sha256File(disk));
  });
});
