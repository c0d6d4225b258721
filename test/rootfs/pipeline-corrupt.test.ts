/**
 * Layers whose blob is right by its digest but whose content is broken, through the rootfs pipeline:
 * a truncated or corrupt gzip or zstd stream, gzip with trailing garbage, a tar cut inside an
 * entry, bytes that are no tar. Each fails with its own code (DECOMPRESS_CORRUPT, TAR_INVALID)
 * naming what was wrong, the process keeps running, and nothing is left at the output. Entries
 * tar-stream cannot read right (GNU and PAX sparse files, unknown type flags) are LAYER_INVALID
 * instead of files with the wrong content.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { type ErrorCode, isOcipullError } from 'ocipull';
import { tempDir } from '../support/paths.js';
import { pullRootfs, rawHeader, writeImageLayout } from '../support/rootfs.js';
import { tarOf } from '../support/tar.js';

const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
const TAR = 'application/vnd.oci.image.layer.v1.tar';

describe('broken layer contents through the rootfs pipeline', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  let tar: Buffer;
  let n = 0;

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-rootfs-corrupt-'));
    tar = await tarOf([
      { header: { name: 'etc/conf', type: 'file' }, content: Buffer.from('c'.repeat(200_000)) },
    ]);
  });
  after(() => cleanup());

  const gz = () => gzipSync(tar);
  const zst = () => execFileSync('zstd', ['-q', '-c'], { input: tar });
  const CASES: { name: string; blob: () => Buffer; mediaType: string; code: ErrorCode; message: RegExp }[] = [
    {
      name: 'a truncated gzip',
      blob: () => gz().subarray(0, gz().length - 40),
      mediaType: GZIP,
      code: 'DECOMPRESS_CORRUPT',
      message: /gzip could not decode the layer: unexpected end of file/,
    },
    {
      name: 'a gzip whose deflate data is garbage',
      blob: () => Buffer.concat([gz().subarray(0, 10), Buffer.alloc(600, 7)]),
      mediaType: GZIP,
      code: 'DECOMPRESS_CORRUPT',
      message: /gzip could not decode/,
    },
    {
      name: 'a gzip followed by garbage',
      blob: () => Buffer.concat([gz(), Buffer.alloc(100, 7)]),
      mediaType: GZIP,
      code: 'DECOMPRESS_CORRUPT',
      message: /gzip could not decode/,
    },
    {
      name: 'a truncated zstd',
      blob: () => zst().subarray(0, zst().length - 30),
      mediaType: ZSTD,
      code: 'DECOMPRESS_CORRUPT',
      message: /zstd could not decode the layer/,
    },
    {
      name: 'a tar cut inside its entry',
      blob: () => tar.subarray(0, 5000),
      mediaType: TAR,
      code: 'TAR_INVALID',
      message: /is not a valid tar: Unexpected end of data/,
    },
    {
      name: 'bytes that are no tar',
      blob: () => Buffer.alloc(3000, 65),
      mediaType: TAR,
      code: 'TAR_INVALID',
      message: /is not a valid tar/,
    },
  ];

  for (const c of CASES) {
    it(`${c.name}: ${c.code}`, async () => {
      const { layout } = await writeImageLayout(join(base, `layout${n++}`), [
        { tar, blob: { bytes: c.blob(), mediaType: c.mediaType } },
      ]);
      const area = join(base, `area${n}`);
      await mkdir(area);
      await assert.rejects(
        pullRootfs({ source: `oci:${layout}:test`, output: join(area, 'out'), cwd: base }),
        (e) => {
          assert.ok(isOcipullError(e, c.code), String(e));
          assert.match((e as Error).message, c.message);
          return true;
        },
      );
      assert.deepEqual(await readdir(area), []);
    });
  }

  /** A tar made by GNU tar of a 10 MiB sparse file (a hole, then 4 bytes) and a small file. */
  async function gnuSparseTar(format: 'gnu' | 'pax'): Promise<Buffer> {
    const src = join(base, `sparse-src-${format}`);
    await mkdir(src);
    execFileSync('sh', [
      '-e',
      '-c',
      'truncate -s 10M "$1/sparse"; echo end >> "$1/sparse"; echo a > "$1/a"',
      'sh',
      src,
    ]);
    return execFileSync('tar', [`--format=${format}`, '--sparse', '-cf', '-', '-C', src, 'sparse', 'a'], {
      maxBuffer: 1 << 26,
    });
  }

  const REFUSED: { name: string; tar: () => Promise<Buffer>; message: RegExp }[] = [
    {
      name: 'a GNU sparse file (tar --sparse --format=gnu, type S)',
      tar: () => gnuSparseTar('gnu'),
      message: /entry "sparse" is a GNU sparse file \(tar type S\), which is not supported/,
    },
    {
      name: 'a PAX sparse file (tar --sparse --format=pax)',
      tar: () => gnuSparseTar('pax'),
      message: /entry "sparse" is a PAX sparse file \(GNU\.sparse\.major\), which is not supported/,
    },
    {
      name: 'an entry of a type flag no tar reader knows (V, a GNU volume label)',
      tar: async () => Buffer.concat([rawHeader('label', 'V', 0), Buffer.alloc(1024)]),
      message: /entry "label" has the unsupported type unknown/,
    },
  ];
  for (const c of REFUSED) {
    it(`${c.name}: LAYER_INVALID, never a wrong file`, async () => {
      const bytes = await c.tar();
      const { layout } = await writeImageLayout(join(base, `layout${n++}`), [{ tar: bytes }]);
      const area = join(base, `area${n}`);
      await mkdir(area);
      await assert.rejects(
        pullRootfs({ source: `oci:${layout}:test`, output: join(area, 'out'), cwd: base }),
        (e) => {
          assert.ok(isOcipullError(e, 'LAYER_INVALID'), String(e));
          assert.match((e as Error).message, c.message);
          return true;
        },
      );
      assert.deepEqual(await readdir(area), []);
    });
  }
});
