/**
 * Layers whose blob is right by its digest but whose content is broken, through the rootfs pipeline:
 * a truncated or corrupt gzip or zstd stream, gzip with trailing garbage, a tar cut inside an
 * entry, bytes that are no tar. Each fails with its own code (DECOMPRESS_CORRUPT, TAR_INVALID)
 * naming what was wrong, the process keeps running, and nothing is left at the output.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { type ErrorCode, isOcipullError } from 'ocipull';
import { tempDir } from '../support/paths.js';
import { pullRootfs, writeImageLayout } from '../support/rootfs.js';
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
});
