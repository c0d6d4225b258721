import assert from 'node:assert/strict';
import { lstat, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isOcipullError } from 'ocipull';
import { applyLayer } from '../../plugins/kind-rootfs/apply/apply.js';
import { Budget } from '../../plugins/kind-rootfs/apply/limits.js';
import { RecordWriter, readRecord, recordPathFor } from '../../plugins/kind-rootfs/apply/record.js';
import { tempDir } from '../support/paths.js';
import { gnuLongName, listTree, rawHeader } from '../support/rootfs.js';
import { type TarEntry, tarOf } from '../support/tar.js';

const file = (name: string, data = name, extra: Partial<TarEntry['header']> = {}): TarEntry => ({
  header: { name, type: 'file', ...extra },
  content: Buffer.from(data),
});
const dir = (name: string, extra: Partial<TarEntry['header']> = {}): TarEntry => ({
  header: { name, type: 'directory', mode: 0o755, ...extra },
});
const sym = (name: string, linkname: string): TarEntry => ({ header: { name, type: 'symlink', linkname } });
const hard = (name: string, linkname: string): TarEntry => ({ header: { name, type: 'link', linkname } });

let base: string;
let cleanup: () => Promise<void>;
let n = 0;
before(async () => ({ dir: base, cleanup } = await tempDir('ocipull-apply-')));
after(() => cleanup());

async function freshRoot(): Promise<string> {
  const root = join(base, `root${n++}`);
  await mkdir(root);
  return root;
}

async function apply(root: string, layers: TarEntry[][], options: Parameters<typeof applyLayer>[2] = {}) {
  for (const [i, layer] of layers.entries()) {
    await applyLayer(Readable.from([await tarOf(layer)]), root, { label: `layer ${i}`, ...options });
  }
}

describe('applyLayer: what layer.md says', () => {
  it('writes files, directories, symlinks, hardlinks and fifos with modes, owners and times', async () => {
    const root = await freshRoot();
    await apply(root, [
      [
        dir('bin', { mtime: new Date(1_000_000) }),
        file('bin/sh', '#!', { mode: 0o4755, uid: 12, gid: 34, mtime: new Date(2_000_000) }),
        hard('bin/sh2', 'bin/sh'),
        sym('bin/link', '/bin/sh'),
        { header: { name: 'tmp', type: 'directory', mode: 0o1777, mtime: new Date(3_000_000) } },
        { header: { name: 'tmp/pipe', type: 'fifo', mode: 0o640 } },
      ],
    ]);
    const tree = await listTree(root);
    assert.equal(tree.get('bin/sh')?.mode, 0o4755);
    assert.equal(tree.get('bin/sh')?.uid, 12);
    assert.equal(tree.get('bin/sh')?.gid, 34);
    assert.equal(tree.get('bin/sh')?.mtime, 2000);
    assert.equal(tree.get('bin/sh2')?.ino, tree.get('bin/sh')?.ino, 'one inode for the hardlink group');
    assert.equal(tree.get('bin/link')?.target, '/bin/sh');
    assert.equal(tree.get('tmp')?.mode, 0o1777);
    assert.equal(tree.get('tmp/pipe')?.type, 'fifo');
    assert.equal(tree.get('tmp/pipe')?.mode, 0o640);
    // Directory times are set after their children were written.
    assert.equal(tree.get('bin')?.mtime, 1000);
    assert.equal(tree.get('tmp')?.mtime, 3000);
  });

  it('a whiteout removes a lower path (a directory with its contents); an opaque marker hides the lower siblings only', async () => {
    const root = await freshRoot();
    await apply(root, [
      [
        dir('a'),
        file('a/x'),
        dir('a/sub'),
        file('a/sub/y'),
        dir('d'),
        file('d/old1'),
        file('d/old2'),
        file('keep'),
      ],
      [{ header: { name: 'a/.wh.sub', type: 'file' } }, { header: { name: '.wh.nothere', type: 'file' } }],
      [dir('d'), file('d/new'), { header: { name: 'd/.wh..wh..opq', type: 'file' } }, file('d/after')],
    ]);
    const paths = [...(await listTree(root)).keys()].sort();
    assert.deepEqual(paths, ['', 'a', 'a/x', 'd', 'd/after', 'd/new', 'keep']);
  });

  it('changes types in every direction between layers', async () => {
    const root = await freshRoot();
    await apply(root, [
      [
        file('f2d'),
        dir('d2f'),
        file('d2f/child'),
        file('s2d-target'),
        sym('s2d', 's2d-target'),
        dir('d2s'),
        file('d2s/c'),
      ],
      [dir('f2d'), file('f2d/in'), file('d2f', 'now a file'), dir('s2d'), sym('d2s', 'f2d'), sym('f2s', 'x')],
      [file('f2s', 'a file again')],
    ]);
    const tree = await listTree(root);
    assert.equal(tree.get('f2d')?.type, 'directory');
    assert.equal(tree.get('f2d/in')?.type, 'file');
    assert.equal(tree.get('d2f')?.type, 'file');
    assert.equal(tree.has('d2f/child'), false);
    assert.equal(tree.get('s2d')?.type, 'directory');
    assert.equal(tree.get('s2d-target')?.type, 'file', 'replacing a symlink never touches its target');
    assert.equal(tree.get('d2s')?.type, 'symlink');
    assert.equal(tree.has('d2s/c'), false);
    assert.equal(await readFile(join(root, 'f2s'), 'utf8'), 'a file again');
  });

  it('reads PAX and GNU long names and PAX owners, times and user xattrs', async () => {
    const root = await freshRoot();
    const long = `${'d'.repeat(120)}/${'f'.repeat(200)}`;
    const gnu = `${'g'.repeat(150)}/${'h'.repeat(180)}`;
    const pax = await tarOf([
      dir('d'.repeat(120)),
      file(long, 'long'),
      {
        header: {
          name: 'attrs',
          type: 'file',
          pax: { 'SCHILY.xattr.user.origin': 'image', uid: '70000', gid: '80000', mtime: '1234567.5' },
        },
        content: Buffer.from('x'),
      },
    ]);
    const content = Buffer.alloc(512);
    content.write('gnu');
    const gnuTar = Buffer.concat([
      rawHeader('g'.repeat(150).slice(0, 99), '5', 0),
      gnuLongName(`${'g'.repeat(150)}/`),
      rawHeader('ignored', '5', 0),
      gnuLongName(gnu),
      rawHeader('ignored', '0', 3),
      content,
      Buffer.alloc(1024),
    ]);
    await applyLayer(Readable.from([pax]), root);
    await applyLayer(Readable.from([gnuTar]), root);
    assert.equal(await readFile(join(root, long), 'utf8'), 'long');
    assert.equal(await readFile(join(root, gnu), 'utf8'), 'gnu');
    const info = await lstat(join(root, 'attrs'));
    assert.equal(info.uid, 70000);
    assert.equal(info.gid, 80000);
    assert.equal(info.mtimeMs, 1234567500);
    const { execFileSync } = await import('node:child_process');
    const xattr = execFileSync('getfattr', ['--only-values', '-n', 'user.origin', join(root, 'attrs')], {
      encoding: 'utf8',
    });
    assert.equal(xattr, 'image');
  });

  it('rootless: files belong to the user, devices are skipped with a warning, the record keeps the truth', async () => {
    const root = await freshRoot();
    const record = new RecordWriter(recordPathFor(root));
    const warnings: string[] = [];
    const log = {
      level: 'warn',
      warn: (m: string) => warnings.push(m),
      error() {},
      info() {},
      debug() {},
      redact() {},
    } as const;
    await apply(
      root,
      [
        [
          dir('dev', { mode: 0o555 }),
          { header: { name: 'dev/zero', type: 'character-device', devmajor: 1, devminor: 5, mode: 0o666 } },
          file('etc-shadow', 's', { mode: 0o400, uid: 0, gid: 42 }),
          file('su', 'su', { mode: 0o4755 }),
          hard('su-again', 'su'),
          dir('gone'),
        ],
        [{ header: { name: '.wh.gone', type: 'file' } }],
      ],
      { asRoot: false, record, log },
    );
    await record.close();
    const tree = await listTree(root);
    assert.equal(tree.has('dev/zero'), false, 'no device node rootless');
    assert.match(warnings.join('\n'), /device "dev\/zero" \(char 1:5\) not made/);
    assert.equal(tree.get('dev')?.mode, 0o755, 'directories stay usable by the user on disk');
    assert.equal(tree.get('etc-shadow')?.mode, 0o600);
    const meta = await readRecord(recordPathFor(root));
    assert.deepEqual(meta.get('dev/zero'), {
      type: 'char',
      mode: 0o666,
      uid: 0,
      gid: 0,
      rdev: [1, 5],
      mtime: 0,
    });
    assert.deepEqual(meta.get('dev'), { type: 'directory', mode: 0o555, uid: 0, gid: 0 });
    assert.deepEqual(meta.get('etc-shadow'), { type: 'file', mode: 0o400, uid: 0, gid: 42 });
    assert.deepEqual(meta.get('su-again'), meta.get('su'));
    assert.equal(meta.has('gone'), false);
  });

  it('as root, a device node is made inside the tree', async () => {
    const root = await freshRoot();
    await apply(
      root,
      [[{ header: { name: 'zero', type: 'character-device', devmajor: 1, devminor: 5, mode: 0o600 } }]],
      {
        asRoot: true,
      },
    );
    const info = await lstat(join(root, 'zero'));
    assert.ok(info.isCharacterDevice());
    assert.equal(info.mode & 0o7777, 0o600);
  });
});

describe('applyLayer: limits', () => {
  it('an entry-count bomb stops with LAYER_ENTRY_LIMIT at the limit', async () => {
    const root = await freshRoot();
    const many = Array.from({ length: 300 }, (_, i) => file(`f${i}`, ''));
    await assert.rejects(apply(root, [many], { limits: { layerEntries: 100 } }), (e) =>
      isOcipullError(e, 'LAYER_ENTRY_LIMIT'),
    );
    assert.equal((await listTree(root)).size, 1 + 100);
  });

  it('a size bomb (a header announcing 1 TiB, then endless zeros) stops before its bytes are written', async () => {
    const root = await freshRoot();
    function* bomb() {
      yield rawHeader('huge', '0', 2 ** 40);
      const zeros = Buffer.alloc(1 << 20);
      for (;;) yield zeros;
    }
    await assert.rejects(
      applyLayer(Readable.from(bomb()), root, { limits: { layerBytes: 1 << 30 } }),
      (e) => {
        assert.ok(isOcipullError(e, 'LAYER_SIZE_LIMIT'), String(e));
        assert.match((e as Error).message, /more than 1\.0 GiB/);
        return true;
      },
    );
    assert.deepEqual([...(await listTree(root)).keys()], ['']);
  });

  it('a PAX header announcing 1 GiB of records stops before tar-stream buffers it', async () => {
    const root = await freshRoot();
    function* bomb() {
      yield rawHeader('PaxHeader', 'x', 2 ** 30);
      const filler = Buffer.alloc(1 << 20, 0x41);
      for (;;) yield filler;
    }
    await assert.rejects(applyLayer(Readable.from(bomb()), root), (e) => {
      assert.ok(isOcipullError(e, 'LAYER_SIZE_LIMIT'), String(e));
      assert.match((e as Error).message, /PAX header record of 1\.0 GiB/);
      return true;
    });
    // A GNU long name of a few KiB is fine (the guard skips the data of every record it passes).
    const name = `${'n'.repeat(200)}/${'m'.repeat(250)}`;
    const data = Buffer.alloc(1024);
    data.write('ok');
    const body = Buffer.concat([
      rawHeader('n'.repeat(99), '5', 0),
      gnuLongName(`${'n'.repeat(200)}/`),
      rawHeader('x', '5', 0),
      gnuLongName(name),
      rawHeader('x', '0', 1000),
      data,
      Buffer.alloc(1024),
    ]);
    await applyLayer(Readable.from([body]), root);
    assert.equal((await readFile(join(root, name))).subarray(0, 2).toString(), 'ok');
  });

  it('layers each within their budget stop when the image passes its own (one Budget per image)', async () => {
    const root = await freshRoot();
    const budget = new Budget({ imageBytes: 1500, layerBytes: 1000 });
    const layer = (i: number) => [file(`l${i}`, 'x'.repeat(600))];
    await apply(root, [layer(0), layer(1)], { budget });
    await assert.rejects(apply(root, [layer(2)], { budget }), (e) => {
      assert.ok(isOcipullError(e, 'LAYER_SIZE_LIMIT'));
      assert.equal((e as { data?: { scope?: string } }).data?.scope, 'image');
      return true;
    });
    await assert.rejects(
      apply(root, [[file('big', 'y'.repeat(1001))]], { budget: new Budget({ layerBytes: 1000 }) }),
      (e) => isOcipullError(e, 'LAYER_SIZE_LIMIT'),
    );
  });
});
