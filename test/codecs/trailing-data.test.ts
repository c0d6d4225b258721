/**
 * What follows the last stream gets the same answer in every decoder mode (child tool or
 * in-process library): zero padding where the format (or its tool) takes it, another stream
 * decoded, anything else DECOMPRESS_TRAILING_DATA. Inputs are made here by the real tools.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isOcipullError, type Plugin } from 'ocipull';
import Bzip2CodecPlugin from '../../plugins/codec-bzip2/index.js';
import GzipCodecPlugin from '../../plugins/codec-gzip/index.js';
import XzCodecPlugin from '../../plugins/codec-xz/index.js';
import ZstdCodecPlugin from '../../plugins/codec-zstd/index.js';
import { ran } from '../reliability/figures.js';
import { decodeFile, seededBytes, sh, sha256 } from '../support/codec.js';
import { tempDir } from '../support/paths.js';

type Mode = 'child' | 'inprocess';

const CODECS: { codec: string; ext: string; plugin: (mode: Mode) => Plugin; tool: string[] }[] = [
  { codec: 'gzip', ext: 'gz', plugin: (mode) => new GzipCodecPlugin({ mode }), tool: ['gzip', '-c'] },
  { codec: 'bzip2', ext: 'bz2', plugin: (mode) => new Bzip2CodecPlugin({ mode }), tool: ['bzip2', '-c'] },
  { codec: 'xz', ext: 'xz', plugin: (mode) => new XzCodecPlugin({ mode }), tool: ['xz', '-c'] },
  { codec: 'zstd', ext: 'zst', plugin: (mode) => new ZstdCodecPlugin({ mode }), tool: ['zstd', '-q', '-c'] },
];

const TRAILING = 'DECOMPRESS_TRAILING_DATA';

/** What is appended, and the outcome per codec: `ok` (decoded as the data) or an error code. */
const TAILS: { what: string; tail: (stream: Buffer) => Buffer; expect: Record<string, string> }[] = [
  {
    what: 'non-zero garbage',
    tail: () => Buffer.from('garbage appended by a careless publisher'),
    expect: { gzip: TRAILING, bzip2: TRAILING, zstd: TRAILING },
  },
  {
    what: 'zeros, then garbage',
    tail: () => Buffer.concat([Buffer.alloc(8), Buffer.from('garbage')]),
    expect: { gzip: TRAILING, bzip2: TRAILING, zstd: TRAILING },
  },
  {
    what: '3 zero bytes',
    tail: () => Buffer.alloc(3),
    expect: { gzip: 'ok', bzip2: TRAILING, xz: TRAILING, zstd: TRAILING },
  },
  {
    what: '512 zero bytes (block padding)',
    tail: () => Buffer.alloc(512),
    expect: { gzip: 'ok', bzip2: TRAILING, xz: 'ok', zstd: TRAILING },
  },
  {
    what: 'the same stream again (multi-member / concatenated)',
    tail: (stream) => stream,
    expect: { gzip: 'ok', bzip2: 'ok', xz: 'ok', zstd: 'ok' },
  },
];

describe('trailing data after the last stream: one answer in every decoder mode', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  const data = seededBytes('trailing', 200_000);
  before(async () => {
    tmp = await tempDir('ocipull-trailing-');
  });
  // Counted for docs/reliability.md: refusals over both modes, once every case has run.
  let refused = 0;
  let cases = 0;
  after(async () => {
    await tmp.cleanup();
    if (cases === CODECS.length * TAILS.length) ran('codec.trailing-data', { refused });
  });

  for (const c of CODECS) {
    for (const t of TAILS) {
      it(`${c.codec} + ${t.what}`, async () => {
        const stream = sh(c.tool[0]!, c.tool.slice(1), { input: data });
        const input = join(tmp.dir, `${c.codec}-${t.what.replace(/\W+/g, '-')}.${c.ext}`);
        const appended = Buffer.concat([stream, t.tail(stream)]);
        await fsp.writeFile(input, appended);
        const answers: string[] = [];
        for (const mode of ['child', 'inprocess'] as const) {
          const out = `${input}.${mode}.out`;
          try {
            const result = await decodeFile(c.plugin(mode), input, out);
            const decoded = await fsp.readFile(out);
            const want = t.tail(stream) === stream ? Buffer.concat([data, data]) : data;
            assert.equal(result.bytesWritten, want.length, mode);
            assert.equal(sha256(decoded), sha256(want), mode);
            answers.push('ok');
          } catch (error) {
            if (error instanceof assert.AssertionError) throw error;
            assert.ok(isOcipullError(error), `${mode}: ${error}`);
            await assert.rejects(fsp.stat(out), { code: 'ENOENT' }, `${mode} left no output`);
            answers.push(error.code);
            refused++;
          }
        }
        cases++;
        assert.equal(answers[0], answers[1], `child and in-process agree (${answers.join(' vs ')})`);
        const expected = t.expect[c.codec];
        if (expected) assert.equal(answers[0], expected);
        // xz's own tool tells garbage after a stream from truncation no better than "corrupt":
        // refused in both modes all the same.
        else assert.notEqual(answers[0], 'ok');
      });
    }
  }
});
