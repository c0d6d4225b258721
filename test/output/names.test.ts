/** Temp names stay within NAME_MAX (255 bytes) for any valid output name. */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { OutputFile } from 'ocipull';
import { tempDir } from '../support/paths.js';

describe('output temp names', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    tmp = await tempDir('ocipull-names-');
  });
  after(() => tmp.cleanup());

  it('a 240-character output name is written (its temp name is cut and hashed to fit)', async () => {
    const target = join(tmp.dir, `${'d'.repeat(235)}.raw`);
    const out = await OutputFile.create(target, { sparse: false, replace: false });
    assert.ok(Buffer.byteLength(basename(out.path)) <= 255, basename(out.path));
    await pipeline(Readable.from([Buffer.from('disk')]), out.createWriteStream());
    await out.commit();
    assert.equal(await fsp.readFile(target, 'utf8'), 'disk');
    assert.deepEqual(await fsp.readdir(tmp.dir), [basename(target)]);
  });
});
