import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger, Orchestrator, runPack } from 'ocipull';
import BundleKindPlugin, { BUNDLE_ARTIFACT_TYPE } from '../support/bundle-kind.js';
import { runCli } from '../support/cli.js';
import { sh } from '../support/codec.js';
import { exists, prngBytes, useBuiltins } from '../support/files.js';
import { type Layout, writeLayerLayout } from '../support/kind-layout.js';
import { repoRoot, tempDir } from '../support/paths.js';

const PLUGINS = ['oci-dir', 'disk-select', 'unpack-blob', 'unpack-tar', 'codec-zstd', 'codec-none', 'cache'];
const kindPlugin = join(repoRoot, 'dist', 'test', 'support', 'bundle-kind.js');

let dir: string;
let cleanup: () => Promise<void>;
let notes: Buffer;
let payload: Buffer;
let good: Layout;
let bad: Layout;

before(async () => {
  ({ dir, cleanup } = await tempDir('ocipull-bundle-'));
  notes = Buffer.from('two files, one of them compressed\n'.repeat(50));
  payload = Buffer.concat([prngBytes(300_000, 7), Buffer.alloc(200_000), prngBytes(1000, 8)]);
  const files = [
    { title: 'notes.txt', bytes: notes, mediaType: 'text/plain' },
    {
      title: 'payload.bin.zst',
      bytes: sh('zstd', ['-q', '-c'], { input: payload }),
      mediaType: 'application/zstd',
    },
  ];
  good = await writeLayerLayout(join(dir, 'good'), files, BUNDLE_ARTIFACT_TYPE);
  bad = await writeLayerLayout(join(dir, 'bad'), files, BUNDLE_ARTIFACT_TYPE);
  // The 2nd layer's blob keeps its size but not its bytes: its digest no longer matches.
  const blob = await readFile(bad.blobs[1]!);
  blob[blob.length - 10] ^= 0xff;
  await writeFile(bad.blobs[1]!, blob);
  await writeFile(join(dir, '.ocipullrc.json'), JSON.stringify({ preset: 'qemu', plugins: [kindPlugin] }));
});
after(() => cleanup());

async function orchestrator(cache: string, concurrency?: number): Promise<Orchestrator> {
  const settings = { kind: 'bundle', cacheDir: cache, ...(concurrency ? { concurrency } : {}) };
  const o = await useBuiltins(new Orchestrator({ log: createLogger('silent'), settings }), PLUGINS);
  return o.use(new BundleKindPlugin());
}

async function assertBundle(out: string): Promise<void> {
  assert.deepEqual((await readdir(out)).sort(), ['notes.txt', 'payload.bin']);
  assert.deepEqual(await readFile(join(out, 'notes.txt')), notes);
  assert.deepEqual(await readFile(join(out, 'payload.bin')), payload);
}

/** Nothing at `target`, and no staging directory (or temp file) beside it. */
async function assertNothingLeft(parent: string, target: string): Promise<void> {
  assert.equal(await exists(target), false, `${target} exists`);
  const stray = (await readdir(parent)).filter((n) => n.includes('ocipull-tmp') || n.includes('ocipull-old'));
  assert.deepEqual(stray, []);
}

describe('an out-of-tree artifact kind ("bundle": two named files of a two-layer manifest)', () => {
  it('is pulled through the CLI with --kind bundle into a directory of its files', async () => {
    const out = join(dir, 'cli-out');
    const result = await runCli(
      [
        'pull',
        `oci-dir:${good.dir}:v1`,
        '--kind',
        'bundle',
        '-o',
        out,
        '--json',
        '--cache-dir',
        join(dir, 'c1'),
      ],
      { cwd: dir },
    );
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { output: string; blobDigest: string };
    assert.equal(report.output, out);
    await assertBundle(out);
    assert.ok((await stat(out)).isDirectory());
  });

  it('is pulled through the orchestrator, and again from the cache', async () => {
    const o = await orchestrator(join(dir, 'c2'));
    const out = join(dir, 'lib-out');
    const first = await o.pull({ source: `oci-dir:${good.dir}:v1`, output: out });
    await assertBundle(out);
    assert.equal(first.cacheHit, false);
    const parts = first.details?.parts as { role: string; codec: string }[];
    assert.deepEqual(
      parts.map((p) => p.codec),
      ['none', 'zstd'],
    );
    const again = await (await orchestrator(join(dir, 'c2'))).pull({
      source: `oci-dir:${good.dir}:v1`,
      output: join(dir, 'lib-out-2'),
    });
    assert.equal(again.cacheHit, true);
    await assertBundle(join(dir, 'lib-out-2'));
  });

  it('an existing directory is replaced only with --replace, with one rename', async () => {
    const out = join(dir, 'replace-out');
    await mkdir(out);
    await writeFile(join(out, 'old.txt'), 'old');
    const refuse = await runCli(
      [
        'pull',
        `oci-dir:${good.dir}:v1`,
        '--kind',
        'bundle',
        '-o',
        join(dir, 'replace-out', 'old.txt'),
        '--cache-dir',
        join(dir, 'c3'),
      ],
      { cwd: dir },
    );
    assert.equal(refuse.code, 8, refuse.stderr);
    assert.match(refuse.stderr, /OUTPUT_EXISTS/);
    const replacing = await (async () => {
      const r = await useBuiltins(
        new Orchestrator({
          log: createLogger('silent'),
          settings: { kind: 'bundle', cacheDir: join(dir, 'c3'), replace: true },
        }),
        PLUGINS,
      );
      return r.use(new BundleKindPlugin());
    })();
    // `-o DIR` that exists names the directory to put the output in: the bundle lands in it.
    await replacing.pull({ source: `oci-dir:${good.dir}:v1`, output: out });
    await assertBundle(join(out, 'bundle'));
    await replacing.pull({ source: `oci-dir:${good.dir}:v1`, output: out });
    await assertBundle(join(out, 'bundle'));
    assert.deepEqual((await readdir(out)).sort(), ['bundle', 'old.txt']);
  });

  it('a digest mismatch in the 2nd layer leaves nothing at the target, through the CLI', async () => {
    const out = join(dir, 'bad-cli');
    const result = await runCli(
      ['pull', `oci-dir:${bad.dir}:v1`, '--kind', 'bundle', '-o', out, '--cache-dir', join(dir, 'c4')],
      { cwd: dir },
    );
    assert.equal(result.code, 5, result.stderr);
    assert.match(result.stderr, /DIGEST_MISMATCH/);
    await assertNothingLeft(dir, out);
  });

  it('a digest mismatch in the 2nd layer leaves nothing, with the 1st placed first (one part at a time)', async () => {
    const out = join(dir, 'bad-lib');
    const o = await orchestrator(join(dir, 'c5'), 1);
    await assert.rejects(o.pull({ source: `oci-dir:${bad.dir}:v1`, output: out }), {
      code: 'DIGEST_MISMATCH',
    });
    await assertNothingLeft(dir, out);
  });

  it('a preset may choose the kind (and bring its plugin): no --kind needed', async () => {
    const presetDir = join(dir, 'with-preset');
    await mkdir(presetDir);
    await writeFile(
      join(presetDir, 'bundle.json'),
      JSON.stringify({ extends: ['base'], plugins: [kindPlugin], settings: { kind: 'bundle' } }),
    );
    await writeFile(join(presetDir, '.ocipullrc.json'), JSON.stringify({ preset: './bundle.json' }));
    const out = join(presetDir, 'out');
    const result = await runCli(
      ['pull', `oci-dir:${good.dir}:v1`, '-o', out, '--cache-dir', join(dir, 'c6')],
      {
        cwd: presetDir,
      },
    );
    assert.equal(result.code, 0, result.stderr);
    await assertBundle(out);
  });

  it('an unknown kind is NO_KIND (exit 2) naming the kinds there are', async () => {
    const result = await runCli(
      ['pull', `oci-dir:${good.dir}:v1`, '--kind', 'bundel', '-o', join(dir, 'x')],
      {
        cwd: dir,
      },
    );
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /NO_KIND/);
    assert.match(result.stderr, /did you mean "bundle"/);
    assert.match(result.stderr, /bundle, disk/);
  });
});

describe('the bundle kind round trip: packed and pulled back through the public API alone', () => {
  it('packs two named files (one zstd-compressed) into a layout, then pulls them back byte for byte', async () => {
    const inputs = join(dir, 'round-trip-inputs');
    await mkdir(inputs, { recursive: true });
    await writeFile(join(inputs, 'notes.txt'), notes);
    await writeFile(join(inputs, 'payload.bin'), payload);
    const o = await orchestrator(join(dir, 'cache-round-trip'));
    const layout = join(dir, 'round-trip-layout');
    const packed = await runPack(o, {
      destination: `oci-dir:${layout}:v1`,
      kind: 'bundle',
      inputs: {
        file: [`notes.txt=${join(inputs, 'notes.txt')}`, `payload.bin=${join(inputs, 'payload.bin')}`],
        zstd: ['payload.bin'],
      },
    });
    assert.equal(packed.entries.length, 1);
    assert.deepEqual(packed.entries[0]!.codecs, ['none', 'zstd']);
    // The zstd layer really is compressed: smaller than the file and starting with zstd's magic.
    const zstdLayer = packed.entries[0]!.layers[1]!;
    assert.ok(zstdLayer.size < payload.length);
    const blob = await readFile(join(layout, 'blobs', 'sha256', zstdLayer.digest.slice(7)));
    assert.deepEqual([...blob.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd]);
    const out = join(dir, 'round-trip-out');
    const result = await o.pull({ source: `oci-dir:${layout}:v1`, output: out });
    assert.equal(result.output, out);
    assert.equal(result.kind, 'bundle');
    await assertBundle(out);
  });
});
