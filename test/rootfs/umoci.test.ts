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
import { repoRoot, tempDir } from '../support/paths.js';
import { listTree, type TreeNode } from '../support/rootfs.js';
import { layoutLayers, umociImage, umociUnpack } from '../support/umoci.js';

const LONG = `${'d'.repeat(120)}/${'f'.repeat(150)}`;

/** One shell step per layer; $R is the bundle's rootfs. */
export const STEPS = [
  // 1: a base tree
  `mkdir -p $R/etc $R/bin $R/usr/lib $R/run $R/tmp $R/var/empty $R/dev $R/usr/share/${'d'.repeat(120)}
   echo root:x:0:0 > $R/etc/passwd; echo 127.0.0.1 > $R/etc/hosts
   echo secret > $R/etc/shadow; chown 0:42 $R/etc/shadow; chmod 0640 $R/etc/shadow
   echo tool > $R/bin/tool; chmod 4755 $R/bin/tool; setfattr -n user.note -v hello $R/bin/tool; ln $R/bin/tool $R/bin/tool2
   ln -s tool $R/bin/sh; ln -s /usr/lib $R/lib
   mkfifo -m 0620 $R/run/pipe; chmod 1777 $R/tmp
   echo lib > $R/usr/lib/libx; chown 1000:1000 $R/usr/lib/libx; mkdir $R/usr/lib/sub; echo s > $R/usr/lib/sub/s
   chown 5:6 $R/var/empty; chmod 0700 $R/var/empty
   mknod -m 0666 $R/dev/zero c 1 5
   echo long > $R/usr/share/${LONG}
   touch -h -d @1500000000 $R/bin/sh $R/usr/lib/libx $R/etc`,
  // 2: deletions and type changes
  `rm $R/etc/shadow; rm -rf $R/usr/lib
   rm $R/bin/sh; echo shell > $R/bin/sh
   rmdir $R/var/empty; ln -s ../tmp $R/var/empty
   rm $R/etc/hosts; mkdir $R/etc/hosts; echo inner > $R/etc/hosts/inner
   ln $R/bin/tool $R/etc/hl; ln -s /etc $R/bin/etc-abs
   chmod 2750 $R/run; chgrp 7 $R/run
   touch -h -d @1600000000 $R/bin/etc-abs $R/etc/hosts/inner`,
  // 3: more changes on changed things
  `rm -rf $R/tmp; mkdir $R/tmp; chmod 1777 $R/tmp; echo n > $R/tmp/n
   rm $R/bin/tool2; rm $R/run/pipe; echo now-a-file > $R/run/pipe
   rm $R/dev/zero; rm $R/bin/etc-abs; mkdir $R/bin/etc-abs
   mkdir -p $R/usr/lib; echo back > $R/usr/lib/libx
   dd if=/dev/urandom of=$R/bin/big bs=64k count=20 2>/dev/null`,
];

type Shape = Omit<TreeNode, 'ino' | 'nlink'> & { links?: string };

/** A tree as comparable data: inode numbers become hardlink groups (the paths sharing one). */
function shapeOf(tree: Map<string, TreeNode>): Map<string, Shape> {
  const groups = new Map<number, string[]>();
  for (const [path, node] of tree) {
    if (node.type !== 'directory' && node.nlink > 1)
      groups.set(node.ino, [...(groups.get(node.ino) ?? []), path]);
  }
  const out = new Map<string, Shape>();
  for (const [path, node] of tree) {
    const { ino, nlink: _nlink, ...rest } = node;
    const group = groups.get(ino);
    out.set(path, group && node.type !== 'directory' ? { ...rest, links: group.sort().join(' ') } : rest);
  }
  return out;
}

function diff(ours: Map<string, Shape>, theirs: Map<string, Shape>): string[] {
  const out: string[] = [];
  for (const [path, shape] of theirs) {
    const mine = ours.get(path);
    if (!mine) out.push(`missing ${path}`);
    else if (JSON.stringify(mine) !== JSON.stringify(shape))
      out.push(`${path}: ours ${JSON.stringify(mine)} umoci ${JSON.stringify(shape)}`);
  }
  for (const path of ours.keys()) if (!theirs.has(path)) out.push(`extra ${path}`);
  return out;
}

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
    const child = join(repoRoot, 'dist', 'test', 'support', 'apply-layers.js');
    const out = execFileSync(
      'setpriv',
      [
        '--reuid=nobody',
        '--regid=nogroup',
        '--clear-groups',
        process.execPath,
        child,
        JSON.stringify({ root, layers }),
      ],
      { encoding: 'utf8', cwd: repoRoot },
    );
    const report = JSON.parse(out) as { uid: number; warnings: string[] };
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
