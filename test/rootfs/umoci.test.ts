/**
 * An image made by the real umoci (several layers: deletions, type changes in every direction,
 * hardlinks, symlinks, a fifo, a device, setuid/setgid/sticky modes, owners, xattrs, long names)
 * applied layer by layer with applyLayer, compared with `umoci unpack` of the same image.
 * The same as the nobody user (setpriv), where the rootless record must carry owners and modes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { chmod, chown, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGunzip } from 'node:zlib';
import { applyLayer } from '../../plugins/kind-rootfs/apply/apply.js';
import { readRecord, recordPathFor } from '../../plugins/kind-rootfs/apply/record.js';
import { runAsNobody } from '../support/nobody.js';
import { tempDir } from '../support/paths.js';
import { diffShapes as diff, listTree, type Shape, shapeOf } from '../support/rootfs.js';
import { LONG, layoutLayers, SAMPLE_STEPS as STEPS, umociImage, umociUnpack } from '../support/umoci.js';

describe('applyLayer against umoci unpack', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  let layers: string[];
  let expected: Map<string, Shape>;

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-umoci-'));
    await chmod(base, 0o755);
    const layout = umociImage(base, STEPS);
    execFileSync('chmod', ['-R', 'a+rX', layout]);
    layers = (await layoutLayers(layout)).layers.map((l) => l.path);
    expected = shapeOf(await listTree(umociUnpack(layout, join(base, 'umoci'))));
  });
  after(() => cleanup());

  it('the image has the layers the steps made', () => {
    assert.equal(layers.length, STEPS.length);
    assert.ok(expected.has(`usr/share/${LONG}`));
    assert.equal(expected.get('dev')?.type, 'directory');
  });

  it('as root: the same paths, types, modes, owners, sizes, contents, link targets, hardlink groups and mtimes', async () => {
    const root = join(base, 'ours');
    await mkdir(root);
    for (const layer of layers)
      await applyLayer(createReadStream(layer).pipe(createGunzip()), root, { asRoot: true });
    const ours = shapeOf(await listTree(root));
    assert.deepEqual(diff(ours, expected), []);
    // The steps' facts are in both trees (so the comparison compares something).
    assert.equal(ours.get('bin/tool')?.mode, 0o4755);
    assert.equal(ours.get('bin/tool')?.links, 'bin/tool etc/hl');
    assert.equal(ours.get('run')?.mode, 0o2750);
    assert.equal(ours.get('run')?.gid, 7);
    assert.equal(ours.get('tmp')?.mode, 0o1777);
    assert.equal(ours.get('var/empty')?.target, '../tmp');
    assert.equal(ours.get('lib')?.target, '/usr/lib');
    assert.equal(ours.get('bin/etc-abs')?.type, 'directory');
    assert.equal(ours.get('bin/sh')?.type, 'file');
    assert.equal(ours.has('etc/shadow'), false);
    assert.equal(ours.has('usr/lib/sub'), false);
    assert.equal(ours.get('etc/hosts/inner')?.mtime, 1600000000);
    const note = (tree: string) =>
      execFileSync(
        'getfattr',
        ['--absolute-names', '--only-values', '-n', 'user.note', join(tree, 'bin', 'tool')],
        {
          encoding: 'utf8',
        },
      );
    assert.equal(note(root), 'hello');
    assert.equal(note(join(base, 'umoci', 'rootfs')), 'hello');
  });

  it('as nobody (setpriv): the same tree on disk, owned by the user, with owners, modes and devices in the record', async () => {
    const area = join(base, 'rootless');
    await mkdir(area);
    await chmod(area, 0o777);
    const root = join(area, 'tree');
    await mkdir(root);
    await chown(root, 65534, 65534);
    const report = runAsNobody<{ uid: number; warnings: string[] }>('test/support/apply-layers.js', {
      root,
      layers,
    });
    assert.equal(report.uid, 65534);
    assert.match(report.warnings.join('\n'), /device "dev\/zero" \(char 1:5\) not made/);
    const record = await readRecord(recordPathFor(root));
    // Layer 3's whiteout of the device (only in the record, never on disk) removed it there too.
    assert.equal(record.has('dev/zero'), false);
    assert.deepEqual(record.get('bin/tool'), { type: 'file', mode: 0o4755, uid: 0, gid: 0 });
    const disk = shapeOf(await listTree(root));
    // On disk: everything belongs to nobody.
    for (const [path, shape] of disk) assert.equal(shape.uid, 65534, `${path} belongs to the user`);
    // Disk + record: what umoci unpacked as root.
    const merged = new Map<string, Shape>();
    for (const [path, shape] of disk) {
      const meta = record.get(path);
      merged.set(path, meta ? { ...shape, mode: meta.mode, uid: meta.uid, gid: meta.gid } : shape);
    }
    // The root directory itself is not an entry of these layers.
    const theirs = new Map(expected);
    merged.set('', theirs.get('')!);
    assert.deepEqual(diff(merged, theirs), []);
  });
});
