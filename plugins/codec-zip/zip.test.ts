import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger, isOcipullError, Orchestrator } from 'ocipull';
import { codecConformance, decodeFile, diskBytes, sh, sha256 } from '../../test/support/codec.js';
import { tempDir } from '../../test/support/paths.js';
import ZipCodecPlugin from './index.js';

codecConformance({
  codec: 'zip',
  extension: 'zip',
  modes: [undefined],
  plugin: () => new ZipCodecPlugin(),
  compress: (src, dst) => sh('zip', ['-q', '-j', dst, src]),
  concatenates: false,
});

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
