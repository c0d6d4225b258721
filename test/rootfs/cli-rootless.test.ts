/**
 * `ocipull pull --kind rootfs` run by the nobody user (setpriv): the tree belongs to the user, the
 * image's owners and modes are in the record beside it (committed with it, replaced with it, gone
 * on failure), and the ext4 and tar made from such a tree carry the image's owners, modes and
 * user xattrs.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readRecord } from '../../plugins/kind-rootfs/apply/record.js';
import { cliPath, tempDir } from '../support/paths.js';
import { SAMPLE_STEPS, umociImage } from '../support/umoci.js';
import { variant } from './cli-layouts.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real CLI as nobody:nogroup, without supplementary groups. */
function asNobody(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'setpriv',
      ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, cliPath, ...args],
      { cwd, env: { ...process.env, HOME: cwd, NO_COLOR: '1' }, encoding: 'utf8' },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('pull --kind rootfs as a normal user', () => {
  let base: string;
  let area: string;
  let cleanup: () => Promise<void>;
  let layout: string;
  let n = 0;
  const fresh = async () => {
    const dir = join(area, `run${n++}`);
    await mkdir(dir);
    await chmod(dir, 0o777);
    return dir;
  };
  const pull = (args: string[], cwd: string, source = `oci:${layout}:test`) =>
    asNobody(['pull', source, '--kind', 'rootfs', '--cache-dir', join(area, 'cache'), ...args], cwd);
  const debugfs = (image: string, request: string) =>
    execFileSync('debugfs', ['-R', request, image], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-rootfs-rootless-'));
    await chmod(base, 0o755);
    layout = umociImage(base, SAMPLE_STEPS);
    execFileSync('chmod', ['-R', 'a+rX', layout]);
    area = join(base, 'area');
    await mkdir(area);
    await chmod(area, 0o777);
  });
  after(() => cleanup());

  it('the tree is the user’s; the record beside it holds the image owners and modes; --replace replaces both', async () => {
    const dir = await fresh();
    const tree = join(dir, 'tree');
    const r = await pull(['-o', tree, '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.rootless, true);
    assert.equal(result.record, `${tree}.rootfs-record.jsonl`);
    assert.deepEqual((await readdir(dir)).sort(), ['tree', 'tree.rootfs-record.jsonl']);
    assert.equal((await stat(join(tree, 'bin', 'tool'))).uid, 65534);
    const record = await readRecord(`${tree}.rootfs-record.jsonl`);
    assert.deepEqual(record.get('bin/tool'), { type: 'file', mode: 0o4755, uid: 0, gid: 0 });
    assert.deepEqual(record.get('run'), { type: 'directory', mode: 0o2750, uid: 0, gid: 7 });
    const again = await pull(['-o', tree, '--replace', '-q'], dir);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      (await readdir(dir)).sort(),
      ['tree', 'tree.rootfs-record.jsonl'],
      'nothing set aside is left',
    );
    assert.deepEqual((await readRecord(`${tree}.rootfs-record.jsonl`)).get('bin/tool')?.mode, 0o4755);
  });

  it('a failure in the last layer leaves no tree, no record and no staging directory', async () => {
    const bad = await variant(layout, join(base, 'bad-diff'), ({ config }) => {
      const rootfs = config.rootfs as { diff_ids: string[] };
      rootfs.diff_ids[rootfs.diff_ids.length - 1] = `sha256:${'0'.repeat(64)}`;
    });
    execFileSync('chmod', ['-R', 'a+rX', bad]);
    const dir = await fresh();
    const r = await pull(['-o', join(dir, 'tree'), '--json'], dir, `oci:${bad}:test`);
    assert.equal(r.code, 5, r.stderr);
    assert.equal(JSON.parse(r.stdout).error.code, 'DIGEST_MISMATCH');
    assert.deepEqual(await readdir(dir), []);
  });

  it('--format ext4 made without root: e2fsck clean, the image owners, modes and xattrs inside', async () => {
    const dir = await fresh();
    const out = join(dir, 'root.ext4');
    const r = await pull(['-o', out, '--format', 'ext4', '-q'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await stat(out)).uid, 65534);
    assert.deepEqual(await readdir(dir), ['root.ext4'], 'the tree and its record are gone');
    execFileSync('e2fsck', ['-fn', out], { stdio: 'pipe' });
    assert.match(debugfs(out, 'stat /bin/tool'), /Mode:\s+04755/);
    assert.match(debugfs(out, 'stat /bin/tool'), /User:\s+0\s+Group:\s+0\b/);
    assert.match(debugfs(out, 'stat /run'), /Mode:\s+02750/);
    assert.match(debugfs(out, 'stat /run'), /User:\s+0\s+Group:\s+7\b/);
    assert.match(debugfs(out, 'stat /tmp'), /Mode:\s+01777/);
    assert.match(debugfs(out, 'ea_list /bin/tool'), /user\.note \(5\) = "hello"/);
  });

  it('--format tar made without root lists the image owners and modes', async () => {
    const dir = await fresh();
    const out = join(dir, 'root.tar');
    const r = await pull(['-o', out, '--format', 'tar', '-q'], dir);
    assert.equal(r.code, 0, r.stderr);
    const listing = execFileSync('tar', ['-tvf', out, '--numeric-owner'], { encoding: 'utf8' });
    assert.match(listing, /^-rwsr-xr-x 0\/0 .* bin\/tool$/m);
    assert.match(listing, /^drwxr-s--- 0\/7 .* run\/$/m);
    assert.match(listing, /^drwxrwxrwt 0\/0 .* tmp\/$/m);
  });
});
