import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { createLogger, isOcipullError, Orchestrator } from 'ocipull';
import { decodeFile, diskBytes, sh, sha256 } from '../../test/support/codec.js';
import { tempDir } from '../../test/support/paths.js';
import ZipCodecPlugin from './index.js';

// The conformance kit's run for zip is in test/codecs/conformance.test.ts.

describe('zip codec, archive shapes', () => {
  it('reads a stored entry, and a streamed entry whose sizes are only in a data descriptor', async () => {
    const { dir, cleanup } = await tempDir('ocipull-zip-');
    try {
      const disk = diskBytes(3, 1 << 20);
      const raw = join(dir, 'disk.raw');
      await fsp.writeFile(raw, disk);
      sh('zip', ['-q', '-0', '-j', join(dir, 'stored.zip'), raw]);
      // `zip - -` reads stdin and writes stdout: no sizes in the local header.
      await fsp.writeFile(join(dir, 'streamed.zip'), sh('zip', ['-q', '-', '-'], { input: disk }));
      for (const name of ['stored', 'streamed']) {
        const result = await decodeFile(
          new ZipCodecPlugin(),
          join(dir, `${name}.zip`),
          join(dir, `${name}.out`),
        );
        assert.equal(result.bytesWritten, disk.length, name);
        assert.equal(sha256(await fsp.readFile(join(dir, `${name}.out`))), sha256(disk), name);
      }
    } finally {
      await cleanup();
    }
  });

  it('refuses an archive holding two files, leaving no output', async () => {
    const { dir, cleanup } = await tempDir('ocipull-zip-');
    try {
      await fsp.writeFile(join(dir, 'a.raw'), diskBytes(4, 8192));
      await fsp.writeFile(join(dir, 'b.raw'), diskBytes(5, 8192));
      sh('zip', ['-q', '-j', join(dir, 'two.zip'), join(dir, 'a.raw'), join(dir, 'b.raw')]);
      await assert.rejects(
        decodeFile(new ZipCodecPlugin(), join(dir, 'two.zip'), join(dir, 'two.out')),
        (error) => {
          assert.ok(isOcipullError(error, 'DECOMPRESS_CORRUPT'));
          assert.match(error.message, /holds 2 entries/);
          return true;
        },
      );
      await assert.rejects(fsp.stat(join(dir, 'two.out')), { code: 'ENOENT' });
    } finally {
      await cleanup();
    }
  });

  it('is chosen only when the name says .zip as well as the bytes', () => {
    const orchestrator = new Orchestrator({ log: createLogger('silent') }).use(new ZipCodecPlugin());
    const head = Uint8Array.of(0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0);
    assert.equal(orchestrator.codecs.detect(head, { name: 'disk.raw.zip' }), 'zip');
    assert.equal(orchestrator.codecs.detect(head, { name: 'disk.raw' }), 'none');
  });
});

/** Stored local entries at the start, then a central directory listing only `listed` of them. */
function handMadeZip(files: { name: string; data: Buffer }[], listed: number[]): Buffer {
  const locals: Buffer[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (const f of files) {
    const name = Buffer.from(f.name);
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt32LE(crc32(f.data), 14);
    header.writeUInt32LE(f.data.length, 18);
    header.writeUInt32LE(f.data.length, 22);
    header.writeUInt16LE(name.length, 26);
    offsets.push(at);
    locals.push(header, name, f.data);
    at += 30 + name.length + f.data.length;
  }
  const records: Buffer[] = [];
  for (const i of listed) {
    const f = files[i]!;
    const name = Buffer.from(f.name);
    const record = Buffer.alloc(46);
    record.writeUInt32LE(0x02014b50, 0);
    record.writeUInt16LE(20, 4);
    record.writeUInt16LE(20, 6);
    record.writeUInt32LE(crc32(f.data), 16);
    record.writeUInt32LE(f.data.length, 20);
    record.writeUInt32LE(f.data.length, 24);
    record.writeUInt16LE(name.length, 28);
    record.writeUInt32LE(offsets[i]!, 42);
    records.push(record, name);
  }
  const directory = Buffer.concat(records);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(listed.length, 8);
  end.writeUInt16LE(listed.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(at, 16);
  return Buffer.concat([...locals, directory, end]);
}

describe('zip codec, local entries and central directory must agree', () => {
  const a = diskBytes(6, 4096);
  const b = Buffer.from(a); // the same bytes: CRC and size cannot tell the entries apart
  const cases: { what: string; zip: () => Buffer; message: RegExp }[] = [
    {
      what: 'a second local entry the directory does not list',
      zip: () =>
        handMadeZip(
          [
            { name: 'disk.raw', data: a },
            { name: 'hidden.raw', data: b },
          ],
          [0],
        ),
      message: /between the entry's data and the directory/,
    },
    {
      what: 'a directory listing only the second local entry',
      zip: () =>
        handMadeZip(
          [
            { name: 'disk.raw', data: a },
            { name: 'other.raw', data: b },
          ],
          [1],
        ),
      message: /not the one at the start/,
    },
    {
      what: 'a directory naming another file than the local header',
      zip: () => {
        const zip = handMadeZip([{ name: 'disk.raw', data: a }], [0]);
        const at = zip.lastIndexOf(Buffer.from('disk.raw'));
        zip.write('evil.raw', at);
        return zip;
      },
      message: /names "evil.raw"/,
    },
  ];
  it('accepts the hand-made one-entry zip (the builder is sound)', async () => {
    const { dir, cleanup } = await tempDir('ocipull-zip-');
    try {
      await fsp.writeFile(join(dir, 'one.zip'), handMadeZip([{ name: 'disk.raw', data: a }], [0]));
      const result = await decodeFile(new ZipCodecPlugin(), join(dir, 'one.zip'), join(dir, 'one.out'));
      assert.equal(sha256(await fsp.readFile(join(dir, 'one.out'))), sha256(a));
      assert.equal(result.bytesWritten, a.length);
    } finally {
      await cleanup();
    }
  });
  for (const c of cases) {
    it(`refuses ${c.what}, leaving no output`, async () => {
      const { dir, cleanup } = await tempDir('ocipull-zip-');
      try {
        await fsp.writeFile(join(dir, 'x.zip'), c.zip());
        await assert.rejects(
          decodeFile(new ZipCodecPlugin(), join(dir, 'x.zip'), join(dir, 'x.out')),
          (error) => {
            assert.ok(isOcipullError(error, 'DECOMPRESS_CORRUPT'), String(error));
            assert.match(error.message, /local entries and central directory disagree/);
            assert.match(error.message, c.message);
            return true;
          },
        );
        await assert.rejects(fsp.stat(join(dir, 'x.out')), { code: 'ENOENT' });
      } finally {
        await cleanup();
      }
    });
  }
});
