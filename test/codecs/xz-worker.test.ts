/**
 * xz without the tool decodes in a worker thread whose input buffers are a fixed pool: each
 * comes back to the main thread once lzma-native has taken it and is refilled, so a download's
 * many small chunks never allocate more than IN_WINDOW (4) buffers. Both ways out are checked
 * byte for byte: the worker writing the output itself (`decompress`) and the stream decoder
 * (`decodeStream`, output sent back).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { createLogger, Orchestrator, OutputFile } from 'ocipull';
import { decodeWorkerStats } from '../../core/pipeline/decode-worker.js';
import XzCodecPlugin, { XZ_CODEC } from '../../plugins/codec-xz/index.js';
import { sha256 } from '../support/codec.js';
import { prngBytes, sha256File } from '../support/files.js';
import { tempDir } from '../support/paths.js';

const MiB = 1 << 20;
const CHUNK = 65536;

/** `blob` in 64 KiB chunks, as a download gives them. */
function chunked(blob: Buffer): Readable {
  const chunks = Array.from({ length: Math.ceil(blob.length / CHUNK) }, (_, i) =>
    blob.subarray(i * CHUNK, (i + 1) * CHUNK),
  );
  return Readable.from(chunks);
}

describe('xz in a worker from a fixed pool of input buffers', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let disk: string;
  let xz: Buffer;

  before(async () => {
    tmp = await tempDir('ocipull-xz-worker-');
    disk = join(tmp.dir, 'disk.raw');
    // Incompressible data, so the xz file is many chunks long, then zeros (large output per call).
    const handle = await fsp.open(disk, 'w');
    try {
      await handle.write(prngBytes(6 * MiB, 19), 0, 6 * MiB, 4096);
      await handle.write(prngBytes(2 * MiB, 20), 0, 2 * MiB, 20 * MiB);
      await handle.truncate(32 * MiB);
    } finally {
      await handle.close();
    }
    xz = execFileSync('xz', ['-3', '-q', '-c', disk], { maxBuffer: 64 * MiB });
    assert.ok(xz.length > 8 * MiB, `${xz.length} bytes of xz: many more chunks than buffers`);
  });
  after(() => tmp.cleanup());

  it('decompress: byte-identical output, at most 4 input buffers for every chunk', async () => {
    const orchestrator = new Orchestrator({ log: createLogger('silent') }).use(
      new XzCodecPlugin({ mode: 'inprocess' }),
    );
    const out = join(tmp.dir, 'out.raw');
    const output = await OutputFile.create(out, { sparse: true, replace: false });
    const before = { ...decodeWorkerStats };
    const result = await orchestrator.hooks.decompress.get('xz')!.promise({
      codec: 'xz',
      input: chunked(xz),
      output,
      signal: new AbortController().signal,
      log: orchestrator.log,
    });
    await output.commit();
    assert.equal(result?.bytesWritten, 32 * MiB);
    assert.equal(await sha256File(out), await sha256File(disk));
    const chunks = decodeWorkerStats.chunks - before.chunks;
    const buffers = decodeWorkerStats.buffers - before.buffers;
    // The input may come coalesced into chunks of up to 1 MiB (the one the worker takes): at least that many.
    assert.ok(chunks >= Math.ceil(xz.length / MiB) && chunks > 4, `${chunks} chunks`);
    assert.ok(buffers <= 4, `${buffers} input buffers for ${chunks} chunks`);
  });

  it('decodeStream: byte-identical output, at most 4 input buffers for every chunk', async () => {
    const before = { ...decodeWorkerStats };
    const decoded: Buffer[] = [];
    await pipeline(
      chunked(xz),
      XZ_CODEC.decodeStream!(),
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          decoded.push(chunk);
          callback();
        },
      }),
    );
    const bytes = Buffer.concat(decoded);
    assert.equal(bytes.length, 32 * MiB);
    assert.equal(sha256(bytes), sha256(await fsp.readFile(disk)));
    const buffers = decodeWorkerStats.buffers - before.buffers;
    assert.ok(decodeWorkerStats.chunks - before.chunks > 40);
    assert.ok(buffers <= 4, `${buffers} input buffers`);
  });
});
