/**
 * More of what real images hold (test/support/umoci.ts MORE_STEPS: read-only directories written
 * into by the next layer, mode 0000, UTF-8 and newline names, a 255-byte name, a deep path,
 * setuid / setgid, hardlinks across directories, a directory remade, a directory replaced by a
 * symlink), pulled through the library as root and as nobody (setpriv), and as an ext4 made
 * rootless; each tree compared with `umoci unpack`'s. erofs-utils 1.5 cannot store its 255-byte
 * name: that is refused with a clear message.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isOcipullError } from 'ocipull';
import { readRecord } from '../../plugins/kind-rootfs/apply/record.js';
import { withMounted } from '../support/mount.js';
import { runAsNobody } from '../support/nobody.js';
import { tempDir } from '../support/paths.js';
import { diffShapes, listTree, pullRootfs, type Shape, shapeOf } from '../support/rootfs.js';
import { MORE_STEPS, umociImage, umociUnpack } from '../support/umoci.js';

describe('more image contents through the rootfs pipeline, against umoci unpack', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  let layout: string;
  let expected: Map<string, Shape>;
  let n = 0;

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-rootfs-more-'));
    await chmod(base, 0o755);
    layout = umociImage(base, MORE_STEPS);
    execFileSync('chmod', ['-R', 'a+rX', layout]);
    expected = shapeOf(await listTree(umociUnpack(layout, join(base, 'umoci'))));
  });
  after(() => cleanup());

  function pullAsNobody(area: string, output: string, rootfs?: Record<string, unknown>) {
    const request = { source: `oci:${layout}:test`, output, cwd: area, ...(rootfs ? { rootfs } : {}) };
    const report = runAsNobody<{ uid: number; error?: { message: string } }>(
      'test/rootfs/pull-child.js',
      request,
      area,
    );
    assert.equal(report.error, undefined, report.error?.message);
    assert.equal(report.uid, 65534);
  }

  async function userArea(): Promise<string> {
    const area = join(base, `area${n++}`);
    await mkdir(area);
    await chmod(area, 0o777);
    return area;
  }

  it('the image holds the cases (so the comparison compares them)', () => {
    assert.equal(expected.get('ro')?.mode, 0o555);
    assert.equal(expected.get('zero')?.mode, 0);
    assert.equal(expected.get('su')?.content, Buffer.from('replaced\n').toString('base64'));
    assert.equal(expected.get('other/su-link')?.mode, 0o6755);
    assert.equal(expected.get('sticky')?.mode, 0o3777);
    assert.equal(expected.get('\u00fcn\u00ef')?.target, 'sp ace');
    assert.ok(expected.has('sp ace/new\nline'));
    assert.ok(expected.has('n'.repeat(255)));
    assert.ok(expected.has('ro/inner/b'));
    assert.deepEqual(
      [...expected.keys()].filter((p) => p.startsWith('opq')),
      ['opq', 'opq/new'],
    );
  });

  it('as root: umoci’s tree', async () => {
    const output = join(base, 'root-tree');
    await pullRootfs({ source: `oci:${layout}:test`, output, cwd: base });
    assert.deepEqual(diffShapes(shapeOf(await listTree(output)), expected), []);
  });

  it('as nobody: the tree on disk plus the record is umoci’s tree', async () => {
    const area = await userArea();
    const output = join(area, 'tree');
    pullAsNobody(area, output);
    const recordName = (await readdir(area)).find((name) => name.endsWith('.rootfs-record.jsonl'))!;
    const record = await readRecord(join(area, recordName));
    const merged = new Map<string, Shape>();
    for (const [path, shape] of shapeOf(await listTree(output))) {
      assert.equal(shape.uid, 65534, `${path} is the user's`);
      const meta = record.get(path);
      merged.set(path, meta ? { ...shape, mode: meta.mode, uid: meta.uid, gid: meta.gid } : shape);
    }
    merged.set('', expected.get('')!);
    assert.deepEqual(diffShapes(merged, expected), []);
  });

  it('an ext4 pulled as nobody holds umoci’s tree (mounted read-only)', async () => {
    const area = await userArea();
    const output = join(area, 'root.ext4');
    pullAsNobody(area, output, { format: 'ext4' });
    execFileSync('e2fsck', ['-fn', output], { stdio: 'pipe' });
    const mounted = await withMounted(output, 'ext4', join(base, 'mnt'), async (dir) =>
      shapeOf(await listTree(dir)),
    );
    mounted.delete('');
    mounted.delete('lost+found');
    const theirs = new Map(expected);
    theirs.delete('');
    assert.deepEqual(diffShapes(mounted, theirs), []);
  });

  it('erofs: a name of 255 bytes (which erofs-utils 1.5 cannot store) is ROOTFS_OUTPUT_FAILED naming it, nothing left', async () => {
    const area = join(base, `area${n++}`);
    await mkdir(area);
    await assert.rejects(
      pullRootfs({
        source: `oci:${layout}:test`,
        output: join(area, 'root.erofs'),
        cwd: base,
        rootfs: { format: 'erofs' },
      }),
      (e) => {
        assert.ok(isOcipullError(e, 'ROOTFS_OUTPUT_FAILED'), String(e));
        assert.match((e as Error).message, /cannot store the name of 255 bytes of "n{255}"/);
        return true;
      },
    );
    assert.deepEqual(await readdir(area), []);
  });
});
