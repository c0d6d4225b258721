import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createExclusive, layoutBlobPath, renameReplacing, tempName } from 'ocipull';
import { tempDir } from '../../test/support/paths.js';

/** Whether each component of a win32 path is a valid Windows file name. */
function validOnWindows(full: string): boolean {
  const parsed = path.win32.parse(full);
  const parts = full.slice(parsed.root.length).split('\\');
  return parts.every(
    (part) =>
      part !== '' &&
      !/[<>:"/\\|?*\u0000-\u001f]/.test(part) &&
      !/[. ]$/.test(part) &&
      !/^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i.test(part),
  );
}

test('layout paths, temp names and the lock file are valid Windows names', () => {
  const dir = 'C:\\Users\\me\\layouts\\machine-os';
  const blob = layoutBlobPath(dir, `sha256:${'ab'.repeat(32)}`, path.win32);
  assert.equal(blob, `${dir}\\blobs\\sha256\\${'ab'.repeat(32)}`);
  const temp = tempName(blob, path.win32);
  assert.equal(path.win32.dirname(temp), `${dir}\\blobs\\sha256`);
  for (const p of [blob, temp, path.win32.join(dir, 'index.json.lock'), path.win32.join(dir, 'oci-layout')]) {
    assert.ok(validOnWindows(p), p);
  }
  assert.equal(validOnWindows('C:\\x\\a:b'), false, 'the check itself refuses a colon');
});

test('renameReplacing retries while Windows reports the target busy, only there', async () => {
  const busy = (times: number, code = 'EPERM') => {
    let calls = 0;
    return {
      get calls() {
        return calls;
      },
      rename: async () => {
        calls++;
        if (calls <= times) throw Object.assign(new Error(code), { code });
      },
    };
  };
  const win = busy(3);
  await renameReplacing('a', 'b', { rename: win.rename, platform: 'win32' });
  assert.equal(win.calls, 4);
  const linux = busy(1);
  await assert.rejects(renameReplacing('a', 'b', { rename: linux.rename, platform: 'linux' }), /EPERM/);
  assert.equal(linux.calls, 1);
  const stuck = busy(100, 'EBUSY');
  await assert.rejects(renameReplacing('a', 'b', { rename: stuck.rename, platform: 'win32' }), /EBUSY/);
  assert.equal(stuck.calls, 10);
});

test('createExclusive falls back to an exclusive copy without hard links, and never overwrites', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const from = path.join(dir, 'from');
  await fsp.writeFile(from, 'marker');
  const noLinks = {
    link: async () => {
      throw Object.assign(new Error('EPERM'), { code: 'EPERM' });
    },
    copyFile: fsp.copyFile,
  };
  assert.equal(await createExclusive(from, path.join(dir, 'to'), noLinks), true);
  assert.equal(await fsp.readFile(path.join(dir, 'to'), 'utf8'), 'marker');
  await fsp.writeFile(path.join(dir, 'kept'), 'first');
  assert.equal(await createExclusive(from, path.join(dir, 'kept'), noLinks), false);
  assert.equal(await createExclusive(from, path.join(dir, 'kept')), false);
  assert.equal(await fsp.readFile(path.join(dir, 'kept'), 'utf8'), 'first');
  assert.equal(await createExclusive(from, path.join(dir, 'linked')), true);
});
