/**
 * Hostile layers, after containerd's pkg/archive breakout tests, moby's pkg/archive and umoci's
 * oci/layer cases: each is refused with its code or contained in the tree, and a sentinel
 * directory beside the target (and at an absolute path the links aim at) stays as it was.
 */
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { type ErrorCode, isOcipullError } from 'ocipull';
import { applyLayer } from '../../plugins/kind-rootfs/apply/apply.js';
import { tempDir } from '../support/paths.js';
import { listTree, makeSentinel } from '../support/rootfs.js';
import { type TarEntry, tarOf } from '../support/tar.js';

const file = (name: string, data = 'pwned'): TarEntry => ({
  header: { name, type: 'file' },
  content: Buffer.from(data),
});
const dir = (name: string): TarEntry => ({ header: { name, type: 'directory', mode: 0o755 } });
const sym = (name: string, linkname: string): TarEntry => ({ header: { name, type: 'symlink', linkname } });
const hard = (name: string, linkname: string): TarEntry => ({ header: { name, type: 'link', linkname } });
const whiteout = (name: string): TarEntry => ({ header: { name, type: 'file' } });

let base: string;
let cleanup: () => Promise<void>;
let changes: () => Promise<string[]>;
/** The sentinel's absolute path: links in the layers aim at it. */
let outside: string;
let n = 0;

before(async () => {
  ({ dir: base, cleanup } = await tempDir('ocipull-hostile-'));
  outside = join(base, 'outside');
  changes = await makeSentinel(outside);
});
after(() => cleanup());

interface Case {
  name: string;
  layers: (outside: string) => TarEntry[][];
  /** The code the run stops with; undefined: it is contained and succeeds. */
  code?: ErrorCode;
  /** What the tree holds afterwards (contained cases). */
  check?(root: string, outside: string): Promise<void>;
}

const CASES: Case[] = [
  { name: 'a name climbing out with ..', layers: () => [[file('../escape')]], code: 'LAYER_UNSAFE_PATH' },
  {
    name: 'a name climbing out in the middle',
    layers: () => [[dir('a'), file('a/../../escape')]],
    code: 'LAYER_UNSAFE_PATH',
  },
  { name: 'an absolute name', layers: (o) => [[file(join(o, 'abs'))]], code: 'LAYER_UNSAFE_PATH' },
  {
    name: 'a whiteout climbing out',
    layers: () => [[whiteout('../.wh.outside')]],
    code: 'LAYER_UNSAFE_PATH',
  },
  { name: 'a whiteout naming the parent', layers: () => [[whiteout('a/.wh..')]], code: 'LAYER_UNSAFE_PATH' },
  {
    name: 'a hardlink target climbing out',
    layers: () => [[hard('h', '../outside/secret')]],
    code: 'LAYER_UNSAFE_PATH',
  },
  {
    name: 'a hardlink to an absolute path',
    layers: (o) => [[hard('h', join(o, 'secret'))]],
    code: 'LAYER_UNSAFE_PATH',
  },
  {
    name: 'a hardlink through an absolute symlink (read as rooted: the target is not in the tree)',
    layers: (o) => [[sym('s', o), hard('h', 's/secret')]],
    code: 'LAYER_INVALID',
  },
  {
    name: 'a hardlink through a relative symlink climbing out',
    layers: () => [[sym('s', '../../../..'), hard('h', `s${base}/outside/secret`)]],
    code: 'LAYER_INVALID',
  },
  {
    name: 'a hardlink to a path not in the tree',
    layers: () => [[hard('h', 'missing')]],
    code: 'LAYER_INVALID',
  },
  { name: 'a hardlink to a directory', layers: () => [[dir('d'), hard('h', 'd')]], code: 'LAYER_INVALID' },
  {
    name: 'a file written through a relative symlink climbing out',
    layers: () => [[sym('link', '../../../outside'), file('link/pwn')]],
    check: async (root) => assert.equal(await readFile(join(root, 'outside', 'pwn'), 'utf8'), 'pwned'),
  },
  {
    name: 'a file written through an absolute symlink',
    layers: (o) => [[sym('abs', o), file('abs/pwn'), file('abs/secret', 'overwritten')]],
    check: async (root, o) => {
      assert.equal(await readFile(join(root, o, 'pwn'), 'utf8'), 'pwned');
      assert.equal(await readFile(join(root, o, 'secret'), 'utf8'), 'overwritten');
    },
  },
  {
    name: 'a chain of symlinks ending outside',
    layers: (o) => [
      [sym('a', 'b'), sym('b', 'c/../d'), dir('c'), sym('d', '../../e'), sym('e', o), file('a/pwn')],
    ],
    check: async (root, o) => assert.equal(await readFile(join(root, o, 'pwn'), 'utf8'), 'pwned'),
  },
  {
    name: 'a symlink loop',
    layers: () => [[sym('loop1', 'loop2'), sym('loop2', 'loop1'), file('loop1/x')]],
    code: 'LAYER_INVALID',
  },
  {
    name: 'a symlink replacing a parent directory between layers',
    layers: (o) => [
      [dir('etc'), file('etc/passwd', 'root')],
      [sym('etc', o)],
      [file('etc/pwn'), file('etc/secret')],
    ],
    check: async (root, o) => {
      assert.ok((await lstat(join(root, 'etc'))).isSymbolicLink());
      assert.equal(await readFile(join(root, o, 'pwn'), 'utf8'), 'pwned');
    },
  },
  {
    name: 'a symlink replacing a parent directory in the same layer',
    layers: () => [[dir('etc'), sym('etc', '../../..'), file('etc/pwn')]],
    check: async (root) => assert.equal(await readFile(join(root, 'pwn'), 'utf8'), 'pwned'),
  },
  {
    name: 'a file replacing a symlink to a file outside (the link is replaced, never followed)',
    layers: (o) => [[sym('f', join(o, 'secret'))], [file('f', 'mine')]],
    check: async (root) => {
      assert.ok((await lstat(join(root, 'f'))).isFile());
      assert.equal(await readFile(join(root, 'f'), 'utf8'), 'mine');
    },
  },
  {
    name: 'a directory entry over a symlink to a directory outside',
    layers: (o) => [[sym('d', o)], [dir('d'), file('d/x')]],
    check: async (root) => assert.ok((await lstat(join(root, 'd'))).isDirectory()),
  },
  {
    name: 'a hardlink to a symlink pointing outside, then a write to the hardlink',
    layers: (o) => [[sym('s', join(o, 'secret')), hard('h', 's')], [file('h', 'mine')]],
    check: async (root) => {
      assert.ok((await lstat(join(root, 's'))).isSymbolicLink());
      assert.equal(await readFile(join(root, 'h'), 'utf8'), 'mine');
    },
  },
  {
    name: 'whiteouts and an opaque marker through a symlink to outside',
    layers: (o) => [
      [sym('w', o), sym('sub', join(o, 'sub'))],
      [whiteout('w/.wh.secret'), whiteout('sub/.wh..wh..opq')],
    ],
  },
  {
    name: 'a symlink to outside as an entry whose parent is made implicitly',
    layers: (o) => [[sym('deep/er/link', o), file('deep/er/link/pwn')]],
    check: async (root, o) => assert.equal(await readFile(join(root, o, 'pwn'), 'utf8'), 'pwned'),
  },
  // After containerd's pkg/archive TestBreakouts (translated: absolute names are refused here).
  {
    name: 'hardlinks through symlinks resolve inside the tree (HardlinkRelative, HardlinkAbsolute)',
    layers: () => [
      [
        dir('etc'),
        file('etc/passwd', 'inside'),
        dir('breakouts'),
        sym('breakouts/d1', '../../etc'),
        hard('breakouts/mypasswd', 'breakouts/d1/passwd'),
        sym('localetc', '/etc'),
        hard('localpasswd', 'localetc/passwd'),
      ],
    ],
    check: async (root) => {
      const ino = async (p: string) => (await lstat(join(root, p))).ino;
      const passwd = await ino('etc/passwd');
      assert.equal(await ino('breakouts/mypasswd'), passwd);
      assert.equal(await ino('localpasswd'), passwd);
    },
  },
  {
    name: 'a whiteout of a symlink to a directory removes the link, not the directory (WhiteoutSymlink)',
    layers: (o) => [
      [dir('etc'), file('etc/passwd', 'all users'), sym('localetc', '/etc'), sym('out', o)],
      [whiteout('.wh.localetc'), whiteout('.wh.out')],
    ],
    check: async (root) => {
      assert.equal(await readFile(join(root, 'etc/passwd'), 'utf8'), 'all users');
      await assert.rejects(lstat(join(root, 'localetc')), { code: 'ENOENT' });
      await assert.rejects(lstat(join(root, 'out')), { code: 'ENOENT' });
    },
  },
  {
    name: 'a whiteout under a dangling symlink is a no-op (WhiteoutDeadSymlinkParent)',
    layers: () => [
      [dir('etc'), file('etc/passwd', 'all users'), sym('localetc', '/dne')],
      [whiteout('localetc/.wh.etc')],
    ],
    check: async (root) => assert.equal(await readFile(join(root, 'etc/passwd'), 'utf8'), 'all users'),
  },
  {
    name: 'a .wh. prefix on a directory component is an ordinary name (WhiteoutDirectoryName)',
    layers: () => [[dir('etc'), file('etc/passwd', 'all users')], [file('.wh.etc/somefile', 'non-empty')]],
    check: async (root) => {
      assert.equal(await readFile(join(root, 'etc/passwd'), 'utf8'), 'all users');
      assert.equal(await readFile(join(root, '.wh.etc/somefile'), 'utf8'), 'non-empty');
    },
  },
  {
    name: 'a file over one name of a hardlink group leaves the others (DirectoryOverrideSymlinkAndHardlink)',
    layers: () => [
      [
        dir('etc'),
        file('etc/passwd', 'inside'),
        sym('localetc', 'etc'),
        hard('etc/localpasswd', 'etc/passwd'),
      ],
      [dir('localetc'), file('localetc/localpasswd', 'different')],
    ],
    check: async (root) => {
      assert.equal(await readFile(join(root, 'etc/passwd'), 'utf8'), 'inside');
      assert.equal(await readFile(join(root, 'etc/localpasswd'), 'utf8'), 'inside');
      assert.ok((await lstat(join(root, 'localetc'))).isDirectory());
      assert.equal(await readFile(join(root, 'localetc/localpasswd'), 'utf8'), 'different');
    },
  },
  {
    name: 'a symlink named .. (SymlinkParentDirectory)',
    layers: () => [[sym('..', '/etc/')]],
    code: 'LAYER_UNSAFE_PATH',
  },
  {
    name: 'a symlink named by a path through .. (SymlinkParentRelative)',
    layers: () => [[sym('localetc/sub/..', '/etc/')]],
    code: 'LAYER_UNSAFE_PATH',
  },
  {
    name: 'a symlink naming the root itself (SymlinkEmptyFilename)',
    layers: () => [[sym('./', '/etc/')]],
    code: 'LAYER_INVALID',
  },
];

describe('applyLayer: hostile layers are refused or contained; nothing is written outside the target', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const root = join(base, `root${n++}`);
      await mkdir(root);
      const run = async () => {
        for (const [i, layer] of c.layers(outside).entries()) {
          await applyLayer(Readable.from([await tarOf(layer)]), root, { label: `layer ${i}` });
        }
      };
      if (c.code) {
        await assert.rejects(run(), (e) => {
          assert.ok(isOcipullError(e, c.code), `expected ${c.code}, got ${String(e)}`);
          assert.ok((e as Error).message.length > 0);
          return true;
        });
      } else {
        await run();
        await c.check?.(root, outside);
      }
      assert.deepEqual(await changes(), [], 'the sentinel outside the target is untouched');
      // And every path written is inside the root: nothing but root* and the sentinel under base.
      const top = [...(await listTree(base)).keys()].filter((p) => p !== '' && !p.includes('/'));
      assert.deepEqual(
        top.filter((p) => p !== 'outside' && !p.startsWith('root')),
        [],
      );
    });
  }
});
