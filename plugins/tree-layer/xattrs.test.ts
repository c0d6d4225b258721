/** getfattr's output read back: names with escapes, binary and empty values, directories. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readUserXattrs, unquote } from './xattrs.js';

test('user.* xattrs of files with awkward names, binary and empty values, read exactly', async () => {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'ocipull-xattrs-'));
  try {
    const names = ['new\nline', 'back\\slash', 'é accent', 'sp ace', '=eq', 'tab\there'];
    for (const name of names) {
      await fsp.writeFile(join(dir, name), '');
      const set = spawnSync('setfattr', [
        '-n',
        'user.name',
        '-v',
        `0x${Buffer.from(name).toString('hex')}`,
        join(dir, name),
      ]);
      assert.equal(set.status, 0, set.stderr?.toString());
    }
    await fsp.mkdir(join(dir, 'sub'));
    spawnSync('setfattr', ['-n', 'user.bin', '-v', '0x00ff0a', join(dir, 'sub')]);
    spawnSync('setfattr', ['-n', 'user.empty', join(dir, 'sub')]);
    await fsp.writeFile(join(dir, 'none'), '');
    const table = await readUserXattrs(dir);
    for (const name of names)
      assert.equal(table.get(join(dir, name))?.get('user.name')?.toString(), name, JSON.stringify(name));
    assert.deepEqual(table.get(join(dir, 'sub'))?.get('user.bin'), Buffer.from([0, 0xff, 0x0a]));
    assert.deepEqual(table.get(join(dir, 'sub'))?.get('user.empty'), Buffer.alloc(0));
    assert.equal(table.has(join(dir, 'none')), false, 'files without user.* attributes are not listed');
    assert.equal(unquote('a\\134b\\012c\\\\d'), 'a\\b\nc\\d');
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
