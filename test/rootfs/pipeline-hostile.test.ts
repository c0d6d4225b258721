/**
 * Hostile layers through the whole pipeline (library pull of an `oci:` layout written by code,
 * not only applyLayer): traversal by name, by symlink chains and by hardlinks, a symlink
 * replacing a parent directory between layers, a device node rootless, a size bomb and an
 * entry-count bomb (the `kinds.rootfs.limits` settings). Each is refused with its code, with
 * nothing at the output path and no staging left, or contained in the tree; a sentinel directory
 * beside the output stays as it was in every case.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ErrorCode, isOcipullError } from 'ocipull';
import { runAsNobody } from '../support/nobody.js';
import { tempDir } from '../support/paths.js';
import { listTree, makeSentinel, pullRootfs, rawHeader, writeImageLayout } from '../support/rootfs.js';
import { type TarEntry, tarOf } from '../support/tar.js';

const file = (name: string, data = 'pwned'): TarEntry => ({
  header: { name, type: 'file' },
  content: Buffer.from(data),
});
const dir = (name: string): TarEntry => ({ header: { name, type: 'directory', mode: 0o755 } });
const sym = (name: string, linkname: string): TarEntry => ({ header: { name, type: 'symlink', linkname } });
const hard = (name: string, linkname: string): TarEntry => ({ header: { name, type: 'link', linkname } });

interface Case {
  name: string;
  /** The layers (each a tar), given the sentinel's absolute path. */
  layers(outside: string): Promise<Buffer[]>;
  code?: ErrorCode;
  limits?: Record<string, number>;
  /** Contained cases: what the tree holds. */
  check?(tree: string, outside: string): Promise<void>;
}

const tars = (...layers: TarEntry[][]) => Promise.all(layers.map((entries) => tarOf(entries)));

const CASES: Case[] = [
  {
    name: 'a name climbing out with ..',
    layers: () => tars([file('../outside/pwned')]),
    code: 'LAYER_UNSAFE_PATH',
  },
  {
    name: 'an absolute name at the sentinel',
    layers: (o) => tars([file(join(o, 'pwned'))]),
    code: 'LAYER_UNSAFE_PATH',
  },
  {
    name: 'a hardlink to a file beside the tree',
    layers: () => tars([hard('h', '../outside/secret')]),
    code: 'LAYER_UNSAFE_PATH',
  },
  {
    name: 'a hardlink through an absolute symlink to the sentinel (read as rooted: not in the tree)',
    layers: (o) => tars([sym('s', o)], [hard('h', 's/secret')]),
    code: 'LAYER_INVALID',
  },
  {
    name: 'a chain of symlinks climbing out, then a write through it in the next layer',
    layers: (o) => tars([sym('a', 'b'), sym('b', 'c/../../..'), dir('c')], [file(`a${o}/pwned`)]),
    async check(tree, o) {
      assert.equal(await readFile(join(tree, o, 'pwned'), 'utf8'), 'pwned');
    },
  },
  {
    name: 'a symlink replacing a parent directory between layers',
    layers: (o) => tars([dir('etc'), file('etc/passwd', 'root')], [sym('etc', o)], [file('etc/pwned')]),
    async check(tree, o) {
      assert.equal((await lstat(join(tree, 'etc'))).isSymbolicLink(), true);
      assert.equal(await readFile(join(tree, o, 'pwned'), 'utf8'), 'pwned');
    },
  },
  {
    name: 'a size bomb: a header announcing 1 TiB (layerBytes 1 MiB)',
    layers: async () => [Buffer.concat([rawHeader('bomb', '0', 2 ** 40), Buffer.alloc(64 * 1024)])],
    limits: { layerBytes: 1024 * 1024 },
    code: 'LAYER_SIZE_LIMIT',
  },
  {
    name: 'a size bomb over the image budget: two layers of 768 KiB (imageBytes 1 MiB)',
    layers: () => tars([file('one', 'x'.repeat(768 * 1024))], [file('two', 'y'.repeat(768 * 1024))]),
    limits: { imageBytes: 1024 * 1024 },
    code: 'LAYER_SIZE_LIMIT',
  },
  {
    name: 'an entry-count bomb: 1200 empty files (layerEntries 400)',
    layers: () => tars(Array.from({ length: 1200 }, (_, i) => file(`f${i}`, ''))),
    limits: { layerEntries: 400 },
    code: 'LAYER_ENTRY_LIMIT',
  },
];

describe('hostile layers through the rootfs pipeline', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  let n = 0;

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-rootfs-pipeline-hostile-'));
    await chmod(base, 0o755);
  });
  after(() => cleanup());

  /** A layout of `layers`, and an area holding the sentinel beside where the output goes. */
  async function setUp(c: Pick<Case, 'layers'>) {
    const area = join(base, `area${n++}`);
    const outside = join(area, 'outside');
    const changes = await makeSentinel(outside);
    const layers = await c.layers(outside);
    const { layout } = await writeImageLayout(
      join(base, `layout${n}`),
      layers.map((tar) => ({ tar })),
    );
    return { area, outside, changes, layout, output: join(area, 'out') };
  }

  for (const c of CASES) {
    it(`${c.name}: ${c.code ?? 'contained'}`, async () => {
      const { area, outside, changes, layout, output } = await setUp(c);
      const pulling = pullRootfs({
        source: `oci:${layout}:test`,
        output,
        cwd: base,
        cacheDir: join(base, `cache${n}`),
        ...(c.limits ? { rootfs: { limits: c.limits } } : {}),
      });
      if (c.code) {
        await assert.rejects(pulling, (e) => {
          assert.ok(isOcipullError(e, c.code), String(e));
          return true;
        });
        // Nothing at the output path, no staging beside it: only the sentinel.
        assert.deepEqual(await readdir(area), ['outside']);
      } else {
        await pulling;
        assert.deepEqual((await readdir(area)).sort(), ['out', 'outside']);
        await c.check?.(output, outside);
      }
      assert.deepEqual(await changes(), [], 'the sentinel is untouched');
    });
  }

  it('a device node, pulled as nobody: skipped with a warning, nothing made, the sentinel untouched', async () => {
    const device: TarEntry = {
      header: { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660 },
    };
    const { area, changes, layout, output } = await setUp({
      layers: () => tars([dir('dev'), device, file('dev/after', 'after')]),
    });
    execFileSync('chmod', ['-R', 'a+rX', layout]);
    await chmod(area, 0o777);
    const report = runAsNobody<{ uid: number; warnings: string[]; error?: { message: string } }>(
      'test/rootfs/pull-child.js',
      { source: `oci:${layout}:test`, output, cwd: area },
      area,
    );
    assert.equal(report.error, undefined, report.error?.message);
    assert.equal(report.uid, 65534);
    assert.match(report.warnings.join('\n'), /device "dev\/sda" \(block 8:0\) not made/);
    const tree = await listTree(output);
    assert.deepEqual([...tree.keys()].sort(), ['', 'dev', 'dev/after']);
    assert.deepEqual(await changes(), []);
  });
});
