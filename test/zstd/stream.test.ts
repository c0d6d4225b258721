/**
 * zstd without the tool, streamed (not a cache hit): one worker thread decodes and writes
 * straight into the output, its input buffers a fixed pool reused chunk after chunk, holes kept;
 * the expansion limit stops it; the input's own failure wins over the decoder's.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger, isOcipullError, Orchestrator, OutputFile } from 'ocipull';
import XzCodecPlugin from '../../plugins/codec-xz/index.js';
import ZstdCodecPlugin from '../../plugins/codec-zstd/index.js';
import { streamStats } from '../../plugins/codec-zstd/stream.js';
import { prngBytes, sha256File } from '../support/files.js';
import { tempDir } from '../support/paths.js';

const MiB = 1 << 20;

async function decode(input: Readable, target: string, maxOutputBytes?: number, codec = 'zstd') {
  const orchestrator = new Orchestrator({ log: createLogger('silent') })
    .use(new ZstdCodecPlugin({ mode: 'inprocess' }))
    .use(new XzCodecPlugin({ mode: 'inprocess' }));
  const output = await OutputFile.create(target, { sparse: true, replace: false });
  try {
    const result = await orchestrator.hooks.decompress.get(codec)!.promise({
      codec,
      input,
      output,
      maxOutputBytes,
      signal: new AbortController().signal,
      log: orchestrator.log,
    });
    await output.commit();
    return result;
  } catch (error) {
    await output.discard();
    throw error;
  }
}

describe('zstd in a worker writing straight into the output', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let disk: string;
  let blob: Buffer;

  before(async () => {
    tmp = await tempDir('ocipull-zstd-stream-');
    disk = join(tmp.dir, 'disk.raw');
    const handle = await fsp.open(disk, 'w');
    try {
      await handle.write(prngBytes(6 * MiB, 3), 0, 6 * MiB, MiB + 512);
      await handle.truncate(48 * MiB);
    } finally {
      await handle.close();
    }
    blob = execFileSync('zstd', ['-3', '-q', '-c', disk], { maxBuffer: 64 * MiB });
  });
  after(() => tmp.cleanup());

  it('decodes byte-identical with holes kept, from a fixed pool of input buffers', async () => {
    const out = join(tmp.dir, 'out.raw');
    // 64 KiB chunks, as a download gives them: many more chunks than buffers.
    const chunks = Array.from({ length: Math.ceil(blob.length / 65536) }, (_, i) =>
      blob.subarray(i * 65536, (i + 1) * 65536),
    );
    const result = await decode(Readable.from(chunks), out);
    assert.equal(result?.bytesWritten, 48 * MiB);
    assert.equal(await sha256File(out), await sha256File(disk));
    const stat = await fsp.stat(out);
    assert.equal(stat.size, 48 * MiB, 'the trailing hole is part of the file');
    assert.ok(stat.blocks * 512 < 10 * MiB, `holes kept: ${stat.blocks * 512} bytes allocated`);
    assert.equal(streamStats.chunks, chunks.length);
    assert.ok(streamStats.buffers <= 4, `${streamStats.buffers} input buffers for ${chunks.length} chunks`);
  });

  it('stops at the expansion limit, EXPANSION_LIMIT, nothing at the output', async () => {
    const out = join(tmp.dir, 'bomb.raw');
    await assert.rejects(decode(Readable.from([blob]), out, 8 * MiB), (error: unknown) => {
      assert.ok(isOcipullError(error, 'EXPANSION_LIMIT'), String(error));
      return true;
    });
    await assert.rejects(fsp.stat(out), { code: 'ENOENT' });
  });

  it('reports the input failure, not the decoder, when the input fails midway', async () => {
    const out = join(tmp.dir, 'failed-input.raw');
    const failing = new Error('the blob digest does not match');
    async function* input() {
      yield blob.subarray(0, blob.length >> 1);
      throw failing;
    }
    await assert.rejects(decode(Readable.from(input()), out), (error: unknown) => {
      // The hook wraps a plain error; the core's own (DIGEST_MISMATCH...) pass through as they are.
      assert.equal(error === failing ? error : (error as { cause?: unknown }).cause, failing, String(error));
      return true;
    });
    await assert.rejects(fsp.stat(out), { code: 'ENOENT' });
  });

  it('a stream cut short is DECOMPRESS_TRUNCATED', async () => {
    const out = join(tmp.dir, 'cut.raw');
    await assert.rejects(
      decode(Readable.from([blob.subarray(0, blob.length - 100)]), out),
      (error: unknown) => {
        assert.ok(isOcipullError(error, 'DECOMPRESS_TRUNCATED'), String(error));
        return true;
      },
    );
  });

  it('xz (decodeInWorker): the worker writes the output itself, holes kept, expansion limit in the worker', async () => {
    const xz = execFileSync('xz', ['-3', '-q', '-c', disk], { maxBuffer: 64 * MiB });
    const out = join(tmp.dir, 'xz.raw');
    assert.equal((await decode(Readable.from([xz]), out, undefined, 'xz'))?.bytesWritten, 48 * MiB);
    assert.equal(await sha256File(out), await sha256File(disk));
    const stat = await fsp.stat(out);
    assert.equal(stat.size, 48 * MiB);
    assert.ok(stat.blocks * 512 < 10 * MiB, `holes kept: ${stat.blocks * 512} bytes allocated`);
    const bomb = join(tmp.dir, 'xz-bomb.raw');
    await assert.rejects(decode(Readable.from([xz]), bomb, 8 * MiB, 'xz'), (error: unknown) => {
      assert.ok(isOcipullError(error, 'EXPANSION_LIMIT'), String(error));
      return true;
    });
    await assert.rejects(fsp.stat(bomb), { code: 'ENOENT' });
  });
});
