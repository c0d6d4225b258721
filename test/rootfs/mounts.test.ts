/**
 * ext4 and erofs outputs of the rootfs pull through the library (`kinds.rootfs.format`): umoci's
 * sample image (plus a device and a fifo that stay) pulled as a disk image, checked by
 * `e2fsck -fn` / `fsck.erofs`, then mounted read-only on a loop device (attached to the file in
 * the temp dir, unmounted and detached after): the mounted tree is `umoci unpack`'s (owners,
 * modes, links, contents, mtimes as the file system keeps them). The tar output, applied again,
 * gives the same tree.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { applyLayer } from '../../plugins/kind-rootfs/apply/apply.js';
import { withMounted } from '../support/mount.js';
import { tempDir } from '../support/paths.js';
import { diffShapes, listTree, pullRootfs, type Shape, shapeOf } from '../support/rootfs.js';
import { NODES_STEP, SAMPLE_STEPS, umociImage, umociUnpack } from '../support/umoci.js';

describe('rootfs ext4 / erofs / tar outputs through the pipeline, mounted read-only', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  let layout: string;
  let expected: Map<string, Shape>;
  let n = 0;

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-rootfs-mounts-'));
    layout = umociImage(base, [...SAMPLE_STEPS, NODES_STEP]);
    expected = shapeOf(await listTree(umociUnpack(layout, join(base, 'umoci'))));
    // The disks' root directory is mkfs's own; ext4 adds lost+found.
    expected.delete('');
    assert.equal(expected.get('dev/zero')?.type, 'char');
    assert.equal(expected.get('dev/initctl')?.type, 'fifo');
  });
  after(() => cleanup());

  /** Pull with `format` into a directory of its own; only the output may be there afterwards. */
  async function pullAs(format: string): Promise<string> {
    const area = join(base, `area${n++}`);
    await mkdir(area);
    const output = join(area, `root.${format}`);
    const result = await pullRootfs({
      source: `oci:${layout}:test`,
      output,
      cwd: base,
      cacheDir: join(base, 'cache'),
      rootfs: { format },
    });
    assert.equal(result.output, output);
    assert.equal((result.details as { format: string }).format, format);
    assert.ok((await stat(output)).isFile());
    assert.deepEqual(await readdir(area), [`root.${format}`]);
    return output;
  }

  async function mountedShape(dir: string): Promise<Map<string, Shape>> {
    const shape = shapeOf(await listTree(dir));
    shape.delete('lost+found');
    shape.delete('');
    return shape;
  }

  for (const type of ['ext4', 'erofs'] as const) {
    it(`${type}: the checker passes and the mounted disk holds umoci's tree`, async () => {
      const image = await pullAs(type);
      execFileSync(type === 'ext4' ? 'e2fsck' : 'fsck.erofs', type === 'ext4' ? ['-fn', image] : [image], {
        stdio: 'pipe',
      });
      const mounted = await withMounted(image, type, join(base, `mnt-${type}`), mountedShape);
      assert.deepEqual(diffShapes(mounted, expected), []);
      // What the comparison covers, on the mounted disk itself.
      assert.equal(mounted.get('bin/tool')?.mode, 0o4755);
      assert.equal(mounted.get('bin/tool')?.links, 'bin/tool etc/hl');
      assert.equal(mounted.get('dev/zero')?.gid, 6);
      assert.equal(mounted.get('var/empty')?.target, '../tmp');
    });
  }

  it('tar: applied again it gives umoci’s tree', async () => {
    const tar = await pullAs('tar');
    const again = join(base, 'again');
    await mkdir(again);
    await applyLayer(createReadStream(tar), again, { asRoot: true });
    const shape = shapeOf(await listTree(again));
    shape.delete('');
    assert.deepEqual(diffShapes(shape, expected), []);
  });
});
