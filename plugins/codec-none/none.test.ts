import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger, isOcipullError, Orchestrator } from 'ocipull';
import { allocated, decodeFile, diskBytes, sha256 } from '../../test/support/codec.js';
import { tempDir } from '../../test/support/paths.js';
import NoneCodecPlugin from './index.js';

describe('none codec', () => {
  it('is what data with no known magic is taken as', () => {
    const orchestrator = new Orchestrator({ log: createLogger('silent') }).use(new NoneCodecPlugin());
    assert.equal(orchestrator.codecs.detect(Buffer.from('QFI\xfb'), { name: 'disk.qcow2' }), 'none');
  });

  it('copies the bytes, with holes when sparse and every block when not', async () => {
    const { dir, cleanup } = await tempDir('ocipull-none-');
    try {
      const disk = diskBytes(6);
      await fsp.writeFile(join(dir, 'disk.raw'), disk);
      const sparse = await decodeFile(new NoneCodecPlugin(), join(dir, 'disk.raw'), join(dir, 'sparse.out'), {
        sparse: true,
      });
      await decodeFile(new NoneCodecPlugin(), join(dir, 'disk.raw'), join(dir, 'dense.out'), {
        sparse: false,
      });
      assert.equal(sparse.bytesWritten, disk.length);
      assert.equal(sha256(await fsp.readFile(join(dir, 'sparse.out'))), sha256(disk));
      assert.equal(sha256(await fsp.readFile(join(dir, 'dense.out'))), sha256(disk));
      assert.ok((await allocated(join(dir, 'sparse.out'))) < disk.length - (3 << 20));
      assert.ok((await allocated(join(dir, 'dense.out'))) >= disk.length);
    } finally {
      await cleanup();
    }
  });

  it('honours maxOutputBytes', async () => {
    const { dir, cleanup } = await tempDir('ocipull-none-');
    try {
      await fsp.writeFile(join(dir, 'disk.raw'), diskBytes(7));
      await assert.rejects(
        decodeFile(new NoneCodecPlugin(), join(dir, 'disk.raw'), join(dir, 'out'), { maxOutputBytes: 1000 }),
        (error) => isOcipullError(error, 'EXPANSION_LIMIT'),
      );
      await assert.rejects(fsp.stat(join(dir, 'out')), { code: 'ENOENT' });
    } finally {
      await cleanup();
    }
  });
});
