/**
 * Codecs as stream transforms any kind can use: every built-in record but zip has an in-process
 * stream decoder; the tar unpacker decodes a compressed layer through the registry's record (so a
 * codec registered by a third party counts, and xz or bzip2 tar layers work as gzip and zstd do);
 * each record's in-process encoder writes what the real tool decodes.
 */
import assert from 'node:assert/strict';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { builtinCodecs, type CodecInfo, createLogger, isOcipullError, Orchestrator } from 'ocipull';
import { extractSingleFile } from '../../plugins/unpack-tar/extract.js';
import { sh, sha256 } from '../support/codec.js';
import { prngBytes } from '../support/files.js';
import { tarOf } from '../support/tar.js';

const TOOLS: Record<string, string[]> = {
  zstd: ['zstd', '-q', '-c'],
  xz: ['xz', '-c'],
  gzip: ['gzip', '-c'],
  bzip2: ['bzip2', '-c'],
};

async function through(input: Buffer, transform: NodeJS.ReadWriteStream): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from([input]),
    transform,
    new Writable({
      write(chunk: Buffer, _enc, callback) {
        out.push(chunk);
        callback();
      },
    }),
  );
  return Buffer.concat(out);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A toy third-party codec: magic "TOY1", then every byte XOR 0x5a. */
const TOY: CodecInfo = {
  name: 'toy',
  magic: [Buffer.from('TOY1')],
  extensions: ['toy'],
  mediaTypes: ['application/x-toy'],
  decodeStream: () => {
    let skip = 4;
    return new Transform({
      transform(chunk: Buffer, _enc, callback) {
        const body = chunk.subarray(Math.min(skip, chunk.length));
        skip -= chunk.length - body.length;
        callback(null, Buffer.from(body.map((b) => b ^ 0x5a)));
      },
    });
  },
};

describe('codecs as stream transforms', () => {
  const data = Buffer.concat([prngBytes(300_000, 7), Buffer.alloc(1 << 20), Buffer.from('end')]);

  it('every built-in record but zip has a stream decoder that gives back what its tool compressed', async () => {
    const codecs = await builtinCodecs();
    const names = codecs.list().map((c) => c.name);
    for (const name of ['zstd', 'xz', 'gzip', 'bzip2', 'zip', 'none']) assert.ok(names.includes(name), name);
    assert.equal(codecs.get('zip')?.decodeStream, undefined, 'zip is no stream format');
    for (const [name, tool] of Object.entries(TOOLS)) {
      const packed = sh(tool[0]!, tool.slice(1), { input: data });
      const decoded = await through(packed, codecs.get(name)!.decodeStream!());
      assert.equal(sha256(decoded), sha256(data), name);
    }
    assert.equal(sha256(await through(data, codecs.get('none')!.decodeStream!())), sha256(data));
  });

  it('a stream decoder fails a truncated stream with DECOMPRESS_TRUNCATED', async () => {
    const codecs = await builtinCodecs();
    for (const [name, tool] of Object.entries(TOOLS)) {
      const packed = sh(tool[0]!, tool.slice(1), { input: data });
      await assert.rejects(
        through(packed.subarray(0, Math.floor(packed.length * 0.6)), codecs.get(name)!.decodeStream!()),
        (error) => isOcipullError(error, 'DECOMPRESS_TRUNCATED'),
        name,
      );
    }
  });

  it('each in-process encoder writes what the real tool decodes', async () => {
    const codecs = await builtinCodecs();
    for (const [name, tool] of Object.entries(TOOLS)) {
      const encoder = codecs.get(name)!.encoder;
      if (!encoder) {
        assert.equal(name, 'bzip2', 'only bzip2 has no encoder');
        continue;
      }
      assert.ok(encoder.stream, `${name} has an in-process encoder`);
      const packed = await through(data, encoder.stream());
      assert.equal(sha256(sh(tool[0]!, ['-d', '-c'], { input: packed })), sha256(data), name);
    }
  });

  it('the tar unpacker decodes xz and bzip2 tar layers through their records, as gzip and zstd', async () => {
    const layer = await tarOf([{ header: { name: 'disk.qcow2', type: 'file' }, content: data }]);
    for (const [name, tool] of Object.entries(TOOLS)) {
      const packed = sh(tool[0]!, tool.slice(1), { input: layer });
      const unpacked = await extractSingleFile(Readable.from([packed]), new AbortController().signal);
      assert.equal(unpacked.name, 'disk.qcow2', name);
      assert.equal(sha256(await readAll(unpacked.stream)), sha256(data), name);
    }
  });

  it('the tar unpacker uses a codec a third party registered, and only the registry it is given', async () => {
    const orchestrator = new Orchestrator({ log: createLogger('silent') });
    orchestrator.codecs.register(TOY);
    const layer = await tarOf([{ header: { name: 'disk.raw', type: 'file' }, content: data }]);
    const toy = Buffer.concat([Buffer.from('TOY1'), Buffer.from(layer.map((b) => b ^ 0x5a))]);
    const unpacked = await extractSingleFile(
      Readable.from([toy]),
      new AbortController().signal,
      orchestrator.codecs,
    );
    assert.equal(sha256(await readAll(unpacked.stream)), sha256(data));
    // A registry without gzip takes a gzip layer for a plain tar: nothing decodes it behind its back.
    const gz = sh('gzip', ['-c'], { input: layer });
    await assert.rejects(
      extractSingleFile(Readable.from([gz]), new AbortController().signal, orchestrator.codecs),
      (error) => isOcipullError(error, 'TAR_INVALID'),
    );
  });
});
