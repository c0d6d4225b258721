/**
 * The rootfs pull through the library as a normal user (`nobody`, through setpriv, in a child
 * node process): the tree on disk belongs to the user and equals umoci's otherwise; the record
 * beside it carries the image's owners and modes, and the device the tree cannot hold, skipped
 * with a warning. An ext4 made the same way carries the image's owners, modes and device.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PullResult } from 'ocipull';
import { readRecord, recordPathFor } from '../../plugins/kind-rootfs/apply/record.js';
import { withMounted } from '../support/mount.js';
import { runAsNobody } from '../support/nobody.js';
import { tempDir } from '../support/paths.js';
import { diffShapes, listTree, type Shape, shapeOf } from '../support/rootfs.js';
import { NODES_STEP, SAMPLE_STEPS, umociImage, umociUnpack } from '../support/umoci.js';

interface ChildReport {
  uid: number;
  warnings: string[];
  result?: PullResult;
  error?: { code: string; message: string };
}

describe('rootfs pull as a normal user (nobody)', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  let layout: string;
  let n = 0;
  let expected: Map<string, Shape>;

  /** Pull as nobody: the area is the working directory, its cache and outputs the user's. */
  function pullAsNobody(area: string, output: string, rootfs?: Record<string, unknown>): ChildReport {
    const request = { source: `oci:${layout}:test`, output, cwd: area, ...(rootfs ? { rootfs } : {}) };
    return runAsNobody<ChildReport>('test/rootfs/pull-child.js', request, area);
  }

  /**
   * The record file beside the pulled tree: `TREE.rootfs-record.jsonl` (recordPathFor) is the
   * contract; without the commit of plan companions (branch h5/rootfs-cli) it keeps the staging
   * directory's name. Exactly one record file must be there.
   */
  async function recordOf(area: string, output: string): Promise<string> {
    const names = (await readdir(area)).filter((name) => name.endsWith('.rootfs-record.jsonl'));
    assert.equal(names.length, 1, `one record beside the tree: ${names.join(', ')}`);
    const found = join(area, names[0]!);
    assert.ok(found === recordPathFor(output) || names[0]!.startsWith(`.${basename(output)}.`), found);
    return found;
  }

  /** A directory the user may write in (its working directory, cache and output). */
  async function userArea(): Promise<string> {
    const area = join(base, `area${n++}`);
    await mkdir(area);
    await chmod(area, 0o777);
    return area;
  }

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-rootfs-rootless-'));
    await chmod(base, 0o755);
    layout = umociImage(base, [...SAMPLE_STEPS, NODES_STEP]);
    execFileSync('chmod', ['-R', 'a+rX', layout]);
    expected = shapeOf(await listTree(umociUnpack(layout, join(base, 'umoci'))));
  });
  after(() => cleanup());

  it('the tree belongs to the user, the record beside it holds owners, modes and the device', async () => {
    const area = await userArea();
    const output = join(area, 'tree');
    const report = pullAsNobody(area, output);
    assert.equal(report.error, undefined, report.error?.message);
    assert.equal(report.uid, 65534);
    assert.equal(report.result?.output, output);
    assert.match(report.warnings.join('\n'), /device "dev\/zero" \(char 1:5\) not made/);
    const disk = shapeOf(await listTree(output));
    for (const [path, shape] of disk) assert.equal(shape.uid, 65534, `${path} belongs to the user`);
    const record = await readRecord(await recordOf(area, output));
    assert.deepEqual(record.get('bin/tool'), { type: 'file', mode: 0o4755, uid: 0, gid: 0 });
    assert.deepEqual(record.get('dev/zero'), {
      type: 'char',
      mode: 0o640,
      uid: 0,
      gid: 6,
      rdev: [1, 5],
      mtime: 1700000000,
    });
    // Disk + record: umoci's tree (the device only in the record; the root is no entry of a layer).
    const merged = new Map<string, Shape>();
    for (const [path, shape] of disk) {
      const meta = record.get(path);
      merged.set(path, meta ? { ...shape, mode: meta.mode, uid: meta.uid, gid: meta.gid } : shape);
    }
    const theirs = new Map(expected);
    theirs.delete('dev/zero');
    merged.set('', theirs.get('')!);
    assert.deepEqual(diffShapes(merged, theirs), []);
    // Beside the tree: the record and the cache, no staging left.
    const record_ = await recordOf(area, output);
    assert.deepEqual((await readdir(area)).filter((name) => join(area, name) !== record_).sort(), [
      'cache',
      'tree',
    ]);
  });

  it('an ext4 pulled as the user holds the image owners, modes and device (mounted read-only)', async () => {
    const area = await userArea();
    const output = join(area, 'root.ext4');
    const report = pullAsNobody(area, output, { format: 'ext4' });
    assert.equal(report.error, undefined, report.error?.message);
    execFileSync('e2fsck', ['-fn', output], { stdio: 'pipe' });
    const mounted = await withMounted(output, 'ext4', join(base, 'mnt'), async (dir) => {
      const shape = shapeOf(await listTree(dir));
      shape.delete('lost+found');
      shape.delete('');
      return shape;
    });
    const theirs = new Map(expected);
    theirs.delete('');
    assert.deepEqual(diffShapes(mounted, theirs), []);
    // Nothing else beside it: no staging, no tree, no record (the disk carries what it said).
    assert.deepEqual((await readdir(area)).sort(), ['cache', 'root.ext4']);
  });
});
