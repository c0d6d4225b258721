import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { isOcipullError, OutputFile } from 'ocipull';
import { allocated, sha256 } from '../support/codec.js';
import { prngBytes } from '../support/files.js';
import { repoRoot, tempDir } from '../support/paths.js';

const MiB = 1 << 20;

/** Data, 8 MiB of zeros (aligned), data, a 3000-byte zero run (too short for a hole), 4 MiB of zeros at the end. */
function pattern(): Buffer {
  return Buffer.concat([
    prngBytes(5000, 1),
    Buffer.alloc(8 * MiB),
    prngBytes(7001, 2),
    Buffer.alloc(3000),
    prngBytes(10, 3),
    Buffer.alloc(4 * MiB),
  ]);
}

/** Feed `bytes` in uneven pieces, so zero runs straddle chunk and stage boundaries. */
function uneven(bytes: Buffer): Readable {
  const sizes = [1, 4095, 70_000, 3 * MiB + 7, 512];
  return Readable.from(
    (function* () {
      for (let at = 0, i = 0; at < bytes.length; i++) {
        const n = sizes[i % sizes.length]!;
        yield bytes.subarray(at, at + n);
        at += n;
      }
    })(),
  );
}

async function temps(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((name) => name.endsWith('.ocipull-tmp'));
}

describe('OutputFile', () => {
  let dir = '';
  let cleanup = async () => {};
  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-output-'));
  });
  after(() => cleanup());

  it('writes holes for 4 KiB aligned zero runs and keeps every byte', async () => {
    const bytes = pattern();
    const target = join(dir, 'sparse.raw');
    const out = await OutputFile.create(target, { sparse: true, replace: false });
    assert.equal((await temps(dir)).length, 1, 'a temp file beside the target');
    await pipeline(uneven(bytes), out.createWriteStream());
    assert.equal(out.bytesWritten, bytes.length);
    await out.commit();
    const stat = await fsp.stat(target);
    assert.equal(stat.size, bytes.length);
    assert.equal(sha256(await fsp.readFile(target)), sha256(bytes));
    // Only the data (about 15 KB, plus block rounding) is allocated; the 12 MiB of zeros are holes.
    assert.ok((await allocated(target)) < 200_000, `allocated ${await allocated(target)} bytes`);
    assert.deepEqual(await temps(dir), []);
  });

  it('writes every byte with sparse off (--no-sparse)', async () => {
    const bytes = pattern();
    const target = join(dir, 'dense.raw');
    const out = await OutputFile.create(target, { sparse: false, replace: false });
    await pipeline(uneven(bytes), out.createWriteStream());
    await out.commit();
    assert.equal(sha256(await fsp.readFile(target)), sha256(bytes));
    assert.ok((await allocated(target)) >= bytes.length);
  });

  it('a file of zeros only is all hole but has its full length', async () => {
    const target = join(dir, 'zeros.raw');
    const out = await OutputFile.create(target, { sparse: true, replace: false });
    await pipeline(Readable.from([Buffer.alloc(16 * MiB)]), out.createWriteStream());
    await out.commit();
    assert.equal((await fsp.stat(target)).size, 16 * MiB);
    assert.ok((await allocated(target)) < 64 << 10);
  });

  it('refuses an existing output unless replace, and then replaces it whole', async () => {
    const target = join(dir, 'exists.raw');
    await fsp.writeFile(target, 'old contents that are longer than the new ones');
    await assert.rejects(OutputFile.create(target, { sparse: false, replace: false }), (e) =>
      isOcipullError(e, 'OUTPUT_EXISTS'),
    );
    const out = await OutputFile.create(target, { sparse: false, replace: true });
    await pipeline(Readable.from([Buffer.from('new')]), out.createWriteStream());
    assert.equal(
      await fsp.readFile(target, 'utf8'),
      'old contents that are longer than the new ones',
      'untouched until commit',
    );
    await out.commit();
    assert.equal(await fsp.readFile(target, 'utf8'), 'new');
    assert.deepEqual(await temps(dir), []);
  });

  it('does not clobber an output that appeared while pulling (no replace)', async () => {
    const target = join(dir, 'raced.raw');
    const out = await OutputFile.create(target, { sparse: false, replace: false });
    await pipeline(Readable.from([Buffer.from('ours')]), out.createWriteStream());
    await fsp.writeFile(target, 'theirs');
    await assert.rejects(out.commit(), (e) => isOcipullError(e, 'OUTPUT_EXISTS'));
    assert.equal(await fsp.readFile(target, 'utf8'), 'theirs');
    assert.deepEqual(await temps(dir), []);
  });

  it('discard leaves nothing, neither at the output path nor beside it', async () => {
    const target = join(dir, 'discarded.raw');
    const out = await OutputFile.create(target, { sparse: true, replace: false });
    await pipeline(Readable.from([prngBytes(MiB, 4)]), out.createWriteStream());
    await out.discard();
    await assert.rejects(fsp.stat(target), { code: 'ENOENT' });
    assert.deepEqual(await temps(dir), []);
  });

  it('names the problem when the directory does not exist', async () => {
    await assert.rejects(
      OutputFile.create(join(dir, 'missing', 'x.raw'), { sparse: false, replace: false }),
      (e) => {
        assert.ok(isOcipullError(e, 'OUTPUT_FAILED'));
        assert.match(e.message, /directory does not exist/);
        return true;
      },
    );
  });

  it('removes its temp file when the process exits before commit', async () => {
    const target = join(dir, 'exit.raw');
    const script = `
      import { OutputFile } from 'ocipull';
      const out = await OutputFile.create(${JSON.stringify(target)}, { sparse: false, replace: false });
      const w = out.createWriteStream();
      w.write(Buffer.alloc(1 << 20, 1), () => process.exit(3));
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    assert.equal(child.status, 3, child.stderr);
    await assert.rejects(fsp.stat(target), { code: 'ENOENT' });
    assert.deepEqual(await temps(dir), []);
  });
});
