import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isOcipullError } from 'ocipull';
import { decodeWorkerStats } from '../../core/pipeline/decode-worker.js';
import { prngBytes } from '../../test/support/files.js';
import { type TarEntry, tarOf } from '../../test/support/tar.js';
import { extractSingleFile } from './extract.js';

/** A Readable over `bytes` in small chunks that counts what was consumed. */
function counted(bytes: Buffer, chunk = 7919): { stream: Readable; consumed: () => number } {
  let consumed = 0;
  function* gen() {
    for (let i = 0; i < bytes.length; i += chunk) {
      const part = bytes.subarray(i, i + chunk);
      consumed += part.length;
      yield part;
    }
  }
  return { stream: Readable.from(gen(), { objectMode: false }), consumed: () => consumed };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function unpackAll(bytes: Buffer): Promise<{ name?: string; size?: number; data: Buffer }> {
  const u = await extractSingleFile(counted(bytes).stream, new AbortController().signal);
  return { name: u.name, size: u.size, data: await readAll(u.stream) };
}

async function expectCode(bytes: Buffer, code: string): Promise<void> {
  await assert.rejects(unpackAll(bytes), (error) => {
    assert.ok(isOcipullError(error), String(error));
    assert.equal(error.code, code, error.message);
    return true;
  });
}

describe('unpack-tar: the one-file tar layer', () => {
  const disk = prngBytes(3 * 1024 * 1024 + 123, 1);

  for (const gzip of [false, true]) {
    it(`streams the single file out of a ${gzip ? 'gzip' : 'plain'} tar and reads the layer to its end`, async () => {
      let layer = await tarOf([{ header: { name: 'myimage.qcow2.xz', type: 'file' }, content: disk }]);
      if (gzip) layer = gzipSync(layer);
      const input = counted(layer);
      const unpacked = await extractSingleFile(input.stream, new AbortController().signal);
      assert.equal(unpacked.name, 'myimage.qcow2.xz');
      assert.equal(unpacked.size, disk.length);
      assert.ok(input.consumed() < layer.length, 'the header is known before the whole layer is read');
      assert.ok((await readAll(unpacked.stream)).equals(disk));
      assert.equal(input.consumed(), layer.length, 'every byte of the layer was consumed');
    });
  }

  for (const tool of ['zstd', 'xz']) {
    it(`decodes a ${tool} tar layer in a worker thread, byte-identical`, async () => {
      const layer = execFileSync(tool, ['-c', '-q'], {
        input: await tarOf([{ header: { name: 'disk.raw', type: 'file' }, content: disk }]),
        maxBuffer: 64 << 20,
      });
      const started = decodeWorkerStats.started;
      const input = counted(layer);
      const unpacked = await extractSingleFile(input.stream, new AbortController().signal);
      assert.equal(unpacked.name, 'disk.raw');
      assert.ok((await readAll(unpacked.stream)).equals(disk));
      assert.equal(decodeWorkerStats.started, started + 1, 'one decoder thread ran the layer');
      assert.equal(input.consumed(), layer.length, 'every byte of the layer was consumed');
    });
  }

  it('accepts ./name and dir/name, keeping the file name', async () => {
    for (const name of ['./disk.raw.zst', 'images/disk.raw.zst']) {
      const got = await unpackAll(
        await tarOf([{ header: { name, type: 'file' }, content: Buffer.from('abc') }]),
      );
      assert.equal(got.name, 'disk.raw.zst');
      assert.equal(got.data.toString(), 'abc');
    }
  });

  it('takes a long (pax) file name', async () => {
    const name = `${'n'.repeat(150)}.qcow2.xz`;
    const got = await unpackAll(await tarOf([{ header: { name, type: 'file' }, content: Buffer.from('x') }]));
    assert.equal(got.name, name);
  });

  const refused: { what: string; entries: TarEntry[]; code: string }[] = [
    {
      what: 'two files',
      entries: [
        { header: { name: 'a.qcow2.xz', type: 'file' }, content: Buffer.from('a') },
        { header: { name: 'b.qcow2.xz', type: 'file' }, content: Buffer.from('b') },
      ],
      code: 'TAR_MULTIPLE_ENTRIES',
    },
    {
      what: 'a directory then the file',
      entries: [
        { header: { name: 'images/', type: 'directory' } },
        { header: { name: 'images/a.raw', type: 'file' }, content: Buffer.from('a') },
      ],
      code: 'TAR_ENTRY_NOT_REGULAR',
    },
    {
      what: 'a symlink',
      entries: [{ header: { name: 'disk.raw', type: 'symlink', linkname: '/etc/passwd' } }],
      code: 'TAR_ENTRY_NOT_REGULAR',
    },
    {
      what: 'a hard link',
      entries: [{ header: { name: 'disk.raw', type: 'link', linkname: 'other' } }],
      code: 'TAR_ENTRY_NOT_REGULAR',
    },
    {
      what: 'a fifo',
      entries: [{ header: { name: 'disk.raw', type: 'fifo' } }],
      code: 'TAR_ENTRY_NOT_REGULAR',
    },
    {
      what: 'an absolute path',
      entries: [{ header: { name: '/disk.raw', type: 'file' }, content: Buffer.from('a') }],
      code: 'TAR_UNSAFE_PATH',
    },
    {
      what: 'a .. path',
      entries: [{ header: { name: '../disk.raw', type: 'file' }, content: Buffer.from('a') }],
      code: 'TAR_UNSAFE_PATH',
    },
    {
      what: 'an inner .. path',
      entries: [{ header: { name: 'a/../../disk.raw', type: 'file' }, content: Buffer.from('a') }],
      code: 'TAR_UNSAFE_PATH',
    },
    { what: 'no entry', entries: [], code: 'TAR_EMPTY' },
  ];
  for (const c of refused) {
    it(`refuses ${c.what} (${c.code})`, async () => {
      const layer = await tarOf(c.entries);
      await expectCode(layer, c.code);
      await expectCode(gzipSync(layer), c.code);
    });
  }

  it('fails the disk stream when a second entry follows a fully read first one', async () => {
    const layer = await tarOf([
      { header: { name: 'a.raw', type: 'file' }, content: prngBytes(100_000, 2) },
      { header: { name: 'b.raw', type: 'file' }, content: Buffer.from('b') },
    ]);
    const unpacked = await extractSingleFile(counted(layer).stream, new AbortController().signal);
    assert.equal(unpacked.name, 'a.raw');
    await assert.rejects(readAll(unpacked.stream), (e) => isOcipullError(e, 'TAR_MULTIPLE_ENTRIES'));
  });

  it('reports a malformed tar as TAR_INVALID', async () => {
    const garbage = Buffer.alloc(1024, 0x41);
    await expectCode(garbage, 'TAR_INVALID');
  });

  it('fails the disk stream when the layer ends inside the file', async () => {
    const layer = await tarOf([{ header: { name: 'a.raw', type: 'file' }, content: prngBytes(200_000, 3) }]);
    const unpacked = await extractSingleFile(
      counted(layer.subarray(0, 100_000)).stream,
      new AbortController().signal,
    );
    await assert.rejects(readAll(unpacked.stream), (e) => isOcipullError(e, 'TAR_INVALID'));
  });

  it('stops when the signal aborts', async () => {
    const layer = await tarOf([
      { header: { name: 'a.raw', type: 'file' }, content: prngBytes(2_000_000, 4) },
    ]);
    const controller = new AbortController();
    const unpacked = await extractSingleFile(counted(layer).stream, controller.signal);
    controller.abort();
    // The disk stream fails with the abort itself, not as a malformed tar.
    await assert.rejects(readAll(unpacked.stream), (e: Error) => {
      assert.equal(e, controller.signal.reason);
      assert.equal(e.name, 'AbortError');
      return true;
    });
  });
});
