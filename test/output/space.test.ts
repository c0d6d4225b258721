/**
 * "No room" failures are recognised whoever reports them: an errno on the error or a cause
 * (ENOSPC, EDQUOT, EFBIG), or the strerror text a decoder child printed.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isOcipullError, OcipullError, OutputFile, spaceErrno } from 'ocipull';
import { tempDir } from '../support/paths.js';

const errno = (code: string, message = code) => Object.assign(new Error(message), { code });

describe('space failures', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    tmp = await tempDir('ocipull-space-');
  });
  after(() => tmp.cleanup());

  it('finds the errno on the error, in its causes, or in a child tool’s words', () => {
    assert.equal(spaceErrno(errno('EDQUOT')), 'EDQUOT');
    assert.equal(spaceErrno(new Error('wrapped', { cause: errno('ENOSPC') })), 'ENOSPC');
    const child = new OcipullError(
      'DECOMPRESS_CORRUPT',
      'the xz stream is corrupt: xz: (stdout): Write error: Disk quota exceeded',
    );
    assert.equal(spaceErrno(child), 'EDQUOT');
    assert.equal(spaceErrno(errno('EIO')), undefined);
    assert.equal(
      spaceErrno(new OcipullError('DECOMPRESS_CORRUPT', 'the zstd stream is corrupt: bad magic')),
      undefined,
    );
  });

  it('an exhausted quota under the output is OUTPUT_FAILED naming the directory', async () => {
    const target = join(tmp.dir, 'quota.raw');
    const out = await OutputFile.create(target, { sparse: false, replace: false });
    try {
      const child = new OcipullError(
        'DECOMPRESS_CORRUPT',
        'zstd: error 70 : Write error : Disk quota exceeded',
      );
      const error = out.explainFailure(child);
      assert.ok(isOcipullError(error, 'OUTPUT_FAILED'), String(error));
      assert.match(
        error.message,
        new RegExp(`disk quota is exhausted on the filesystem holding ${tmp.dir} \\(EDQUOT\\)`),
      );
      assert.match(error.message, /bytes\)? free/);
      assert.match(error.hint ?? '', /choose another -o/);
      const other = new OcipullError('DECOMPRESS_CORRUPT', 'the zstd stream is corrupt');
      assert.equal(out.explainFailure(other), other, 'other failures are left alone');
    } finally {
      await out.discard();
    }
  });
});
