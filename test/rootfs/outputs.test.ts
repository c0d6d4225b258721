/**
 * Tree → outputs: the sample umoci image (plus a device and a fifo that stay) applied, then written
 * as tar, ext4 and erofs. The disks pass their checkers and, mounted read-only on a loop device,
 * hold umoci's tree; the tar applied again gives the same tree. The same when the tree and the
 * outputs are made by the nobody user (the record carries owners, modes and devices).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { chmod, chown, mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGunzip } from 'node:zlib';
import { isOcipullError } from 'ocipull';
import { applyLayer } from '../../plugins/kind-rootfs/apply/apply.js';
import { recordPathFor } from '../../plugins/kind-rootfs/apply/record.js';
import { treeToErofs, treeToExt4 } from '../../plugins/kind-rootfs/output/disk.js';
import { treeToTar } from '../../plugins/kind-rootfs/output/tar.js';
import { withMounted } from '../support/mount.js';
import { runAsNobody } from '../support/nobody.js';
import { tempDir } from '../support/paths.js';
import { diffShapes, listTree, type Shape, shapeOf } from '../support/rootfs.js';
import { layoutLayers, NODES_STEP, SAMPLE_STEPS, umociImage, umociUnpack } from '../support/umoci.js';

/** `NAME=0xHEX` lines of the user xattrs of `path` (getfattr's hex form, binary values exact). */
function xattrsOf(path: string): string {
  return execFileSync('getfattr', ['--absolute-names', '--dump', '--match=^user\\.', '-e', 'hex', path], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter((line) => line.startsWith('user.'))
    .join('\n');
}

/** The tree of a mounted disk without what the file system adds (ext4's lost+found) and its root. */
async function mountedShape(dir: string): Promise<Map<string, Shape>> {
  const shape = shapeOf(await listTree(dir));
  shape.delete('lost+found');
  shape.delete('');
  return shape;
}

function withoutRoot(shape: Map<string, Shape>): Map<string, Shape> {
  const copy = new Map(shape);
  copy.delete('');
  return copy;
}

describe('rootfs outputs: tar, ext4, erofs', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  let layers: string[];
  let expected: Map<string, Shape>;
  let tree: string;

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-outputs-'));
    await chmod(base, 0o755);
    const layout = umociImage(base, [...SAMPLE_STEPS, NODES_STEP]);
    execFileSync('chmod', ['-R', 'a+rX', layout]);
    layers = (await layoutLayers(layout)).layers.map((l) => l.path);
    expected = withoutRoot(shapeOf(await listTree(umociUnpack(layout, join(base, 'umoci')))));
    assert.equal(expected.get('dev/zero')?.type, 'char');
    tree = join(base, 'tree');
    await mkdir(tree);
    for (const layer of layers)
      await applyLayer(createReadStream(layer).pipe(createGunzip()), tree, { asRoot: true });
  });
  after(() => cleanup());

  it('ext4 (sized to the content): e2fsck -fn passes and the mounted disk holds the tree', async () => {
    const out = join(base, 'root.ext4');
    const facts = await treeToExt4(tree, out, { label: 'rootfs' });
    assert.equal((await stat(out)).size, facts.bytes);
    assert.ok(facts.bytes < 64 * 1024 * 1024, `sized to the content: ${facts.bytes}`);
    execFileSync('e2fsck', ['-fn', out], { stdio: 'pipe' });
    const mounted = await withMounted(out, 'ext4', join(base, 'mnt-ext4'), mountedShape);
    assert.deepEqual(diffShapes(mounted, expected), []);
  });

  it('ext4 of a given size, and a size too small refused with ROOTFS_OUTPUT_FAILED leaving nothing', async () => {
    const out = join(base, 'sized.ext4');
    await treeToExt4(tree, out, { size: 96 * 1024 * 1024 });
    assert.equal((await stat(out)).size, 96 * 1024 * 1024);
    const small = join(base, 'small.ext4');
    await assert.rejects(treeToExt4(tree, small, { size: 64 * 1024 }), (e) =>
      isOcipullError(e, 'ROOTFS_OUTPUT_FAILED'),
    );
    await assert.rejects(stat(small), { code: 'ENOENT' });
    // mkfs.ext4 itself failing (room for the files, none for the metadata) is named too.
    await assert.rejects(treeToExt4(tree, small, { size: 1536 * 1024 }), (e) => {
      assert.ok(isOcipullError(e, 'ROOTFS_OUTPUT_FAILED'), String(e));
      assert.match((e as Error).message, /mkfs\.ext4/);
      return true;
    });
    await assert.rejects(stat(small), { code: 'ENOENT' });
  });

  it('erofs: fsck.erofs passes and the mounted disk holds the tree', async () => {
    const out = join(base, 'root.erofs');
    await treeToErofs(tree, out);
    execFileSync('fsck.erofs', [out], { stdio: 'pipe' });
    const mounted = await withMounted(out, 'erofs', join(base, 'mnt-erofs'), mountedShape);
    assert.deepEqual(diffShapes(mounted, expected), []);
  });

  it('tar: applied again it gives the same tree', async () => {
    const out = join(base, 'root.tar');
    const { entries } = await treeToTar(tree, out);
    assert.equal(entries, expected.size);
    const again = join(base, 'again');
    await mkdir(again);
    await applyLayer(createReadStream(out), again, { asRoot: true });
    assert.deepEqual(diffShapes(withoutRoot(shapeOf(await listTree(again))), expected), []);
  });

  it('user xattrs, binary values and long names included, are in the tar (PAX SCHILY.xattr), ext4 and erofs; also through fakeroot', async () => {
    const xt = join(base, 'xattr-tree');
    const long = `${'n'.repeat(150)}/${'m'.repeat(120)}`;
    await mkdir(join(xt, 'd', long.split('/')[0]!), { recursive: true });
    await writeFile(join(xt, 'a'), 'a');
    await writeFile(join(xt, 'd', long), 'long');
    await symlink('a', join(xt, 'l'));
    const set = (path: string, name: string, value: string) =>
      execFileSync('setfattr', ['-h', '-n', name, '-v', value, join(xt, path)]);
    set('a', 'user.bin', '0x00ff01fe80');
    set('a', 'user.text', 'hello');
    set('d', 'user.dir', '0x01');
    set(`d/${long}`, 'user.long', '0xc3a9');
    const want = {
      a: 'user.bin=0x00ff01fe80\nuser.text=0x68656c6c6f',
      d: 'user.dir=0x01',
      [`d/${long}`]: 'user.long=0xc3a9',
    };
    const check = (root: string, what: string) => {
      for (const [path, xattrs] of Object.entries(want))
        assert.equal(xattrsOf(join(root, path)), xattrs, `${what}: ${path}`);
    };
    const tarOut = join(base, 'xattrs.tar');
    await treeToTar(xt, tarOut);
    const back = join(base, 'xattrs-back');
    await mkdir(back);
    execFileSync('tar', ['--xattrs', '--xattrs-include=user.*', '-xpf', tarOut, '-C', back]);
    check(back, 'tar');
    // As root the tools read the tree's xattrs themselves; with a record they run under fakeroot.
    const withRecord = join(base, 'xattr-tree-record');
    execFileSync('cp', ['-a', xt, withRecord]);
    await writeFile(
      recordPathFor(withRecord),
      `${JSON.stringify({ op: 'set', path: 'a', type: 'file', mode: 0o4755, uid: 0, gid: 0 })}\n`,
    );
    for (const tree of [xt, withRecord]) {
      const via = tree === xt ? 'direct' : 'fakeroot';
      const ext4 = join(base, `xattrs-${via}.ext4`);
      await treeToExt4(tree, ext4);
      execFileSync('e2fsck', ['-fn', ext4], { stdio: 'pipe' });
      await withMounted(ext4, 'ext4', join(base, `mnt-xattrs-ext4-${via}`), async (at) =>
        check(at, `ext4 ${via}`),
      );
      const erofs = join(base, `xattrs-${via}.erofs`);
      await treeToErofs(tree, erofs);
      execFileSync('fsck.erofs', [erofs], { stdio: 'pipe' });
      await withMounted(erofs, 'erofs', join(base, `mnt-xattrs-erofs-${via}`), async (at) => {
        check(at, `erofs ${via}`);
        if (via === 'fakeroot') assert.equal((await stat(join(at, 'a'))).mode & 0o7777, 0o4755);
      });
    }
  });

  it('erofs of a given size is padded to it, and a size too small is ROOTFS_OUTPUT_FAILED leaving nothing', async () => {
    const out = join(base, 'sized.erofs');
    await treeToErofs(tree, out, { size: 32 * 1024 * 1024 });
    assert.equal((await stat(out)).size, 32 * 1024 * 1024);
    execFileSync('fsck.erofs', [out], { stdio: 'pipe' });
    const small = join(base, 'small.erofs');
    await assert.rejects(treeToErofs(tree, small, { size: 4096 }), (e) =>
      isOcipullError(e, 'ROOTFS_OUTPUT_FAILED'),
    );
    await assert.rejects(stat(small), { code: 'ENOENT' });
  });

  it('as nobody: tree, tar, ext4 and erofs made without root carry the image owners, modes and devices', async () => {
    const area = join(base, 'rootless');
    await mkdir(area);
    await chmod(area, 0o777);
    const root = join(area, 'tree');
    await mkdir(root);
    await chown(root, 65534, 65534);
    const outputs = { tar: join(area, 'r.tar'), ext4: join(area, 'r.ext4'), erofs: join(area, 'r.erofs') };
    const report = runAsNobody<{ uid: number }>('test/support/apply-layers.js', { root, layers, outputs });
    assert.equal(report.uid, 65534);
    assert.equal((await stat(outputs.ext4)).uid, 65534);
    execFileSync('e2fsck', ['-fn', outputs.ext4], { stdio: 'pipe' });
    execFileSync('fsck.erofs', [outputs.erofs], { stdio: 'pipe' });
    for (const [type, image] of [
      ['ext4', outputs.ext4],
      ['erofs', outputs.erofs],
    ] as const) {
      const mounted = await withMounted(image, type, join(base, `mnt-rootless-${type}`), async (at) => {
        // fakeroot hides the tree's own xattrs: the session sets them again for mkfs.
        assert.equal(xattrsOf(join(at, 'bin', 'tool')), 'user.note=0x68656c6c6f', `${type} xattrs`);
        return mountedShape(at);
      });
      assert.deepEqual(diffShapes(mounted, expected), [], `${type} made rootless`);
    }
    const again = join(base, 'again-rootless');
    await mkdir(again);
    await applyLayer(createReadStream(outputs.tar), again, { asRoot: true });
    assert.deepEqual(
      diffShapes(withoutRoot(shapeOf(await listTree(again))), expected),
      [],
      'tar made rootless',
    );
  });
});
