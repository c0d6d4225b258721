/**
 * `ocipull pull --kind rootfs` through the real CLI on `oci:` layouts made by the real umoci: the
 * tree compared with `umoci unpack`, the target's rules (OUTPUT_EXISTS, --replace, -o DIR/), the
 * tar / ext4 / erofs formats read back by their own tools, --metadata and --json, every error
 * code of the command, a failure in the last layer leaving nothing, and the default tag.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runtimeSettings } from '../../plugins/kind-rootfs/runtime.js';
import { runCli } from '../support/cli.js';
import { withMounted } from '../support/mount.js';
import { tempDir } from '../support/paths.js';
import { startRegistry } from '../support/registry.js';
import { diffShapes, listTree, type Shape, shapeOf } from '../support/rootfs.js';
import { layoutLayers, SAMPLE_STEPS, umociImage, umociUnpack } from '../support/umoci.js';
import { readImage, schema1Variant, variant } from './cli-layouts.js';

const configDigestOf = async (layout: string) =>
  ((await readImage(layout)).manifest.config as { digest: string }).digest;

const withoutRoot = (shape: Map<string, Shape>) => {
  const copy = new Map(shape);
  copy.delete('');
  return copy;
};

describe('ocipull pull --kind rootfs', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  let layout: string;
  let expected: Map<string, Shape>;
  let config: Record<string, unknown>;
  let n = 0;
  const fresh = async () => {
    const dir = join(base, `run${n++}`);
    await mkdir(dir);
    return dir;
  };
  const pull = (args: string[], cwd = base, source = `oci:${layout}:test`) =>
    runCli(['pull', source, '--kind', 'rootfs', '--cache-dir', join(base, 'cache'), ...args], { cwd });
  const failure = (stdout: string) =>
    JSON.parse(stdout).error as { code: string; message: string; hint?: string };

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-rootfs-cli-'));
    await chmod(base, 0o755);
    layout = umociImage(base, SAMPLE_STEPS);
    execFileSync('umoci', [
      'config',
      '--image',
      `${layout}:test`,
      '--config.entrypoint=/bin/tool',
      '--config.cmd=--serve',
      '--config.env=MODE=prod',
      '--config.workingdir=/srv',
      '--config.user=1000:1000',
      '--config.exposedports=80/tcp',
      '--config.label=org.example=yes',
    ]);
    execFileSync('chmod', ['-R', 'a+rX', layout]);
    ({ config } = await layoutLayers(layout));
    expected = withoutRoot(shapeOf(await listTree(umociUnpack(layout, join(base, 'umoci')))));
  });
  after(() => cleanup());

  it('-o DIR writes the tree umoci unpacks, with the result in --json and nothing staged left beside it', async () => {
    const dir = await fresh();
    const r = await pull(['-o', join(dir, 'tree'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.kind, 'rootfs');
    assert.equal(result.format, 'tree');
    assert.equal(result.layers, SAMPLE_STEPS.length);
    assert.deepEqual(result.runtime, runtimeSettings(config));
    assert.deepEqual(result.runtime.entrypoint, ['/bin/tool']);
    assert.deepEqual(result.platform, { os: 'linux', architecture: 'amd64' });
    assert.ok(result.bytesFetched > 0);
    assert.equal(result.rootless, false);
    assert.equal(result.output, join(dir, 'tree'));
    assert.deepEqual(diffShapes(withoutRoot(shapeOf(await listTree(join(dir, 'tree')))), expected), []);
    // Root: no record; nothing but the tree in the directory.
    assert.deepEqual(await readdir(dir), ['tree']);
  });

  it('an existing DIR is OUTPUT_EXISTS naming --replace; --replace replaces it and removes the old one', async () => {
    const dir = await fresh();
    const tree = join(dir, 'tree');
    await mkdir(tree);
    await writeFile(join(tree, 'old-file'), 'old');
    const refused = await pull(['-o', tree, '--json']);
    assert.equal(refused.code, 8);
    const error = failure(refused.stdout);
    assert.equal(error.code, 'OUTPUT_EXISTS');
    assert.match(error.hint ?? '', /--replace/);
    assert.deepEqual(await readdir(tree), ['old-file'], 'the existing tree is untouched');
    const replaced = await pull(['-o', tree, '--replace', '-q']);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.deepEqual(diffShapes(withoutRoot(shapeOf(await listTree(tree))), expected), []);
    assert.deepEqual(await readdir(dir), ['tree'], 'the old tree is gone, nothing set aside remains');
    // A file output replaces a file, with --replace only; each refuses the other's type.
    const file = join(dir, 'root.ext4');
    await writeFile(file, 'x');
    assert.equal((await pull(['-o', file, '--format', 'ext4', '-q'])).code, 8);
    assert.equal((await pull(['-o', file, '--format', 'ext4', '--replace', '-q'])).code, 0);
    assert.ok((await stat(file)).size > 1024 * 1024);
    const mismatched = [
      await pull(['-o', file, '--replace', '--json']),
      await pull(['-o', tree, '--format', 'ext4', '--replace', '--json']),
    ];
    for (const r of mismatched) {
      assert.equal(r.code, 8, r.stderr);
      assert.match(failure(r.stdout).message, /exists and is not a (directory|file)/);
    }
    assert.deepEqual((await readdir(dir)).sort(), ['root.ext4', 'tree']);
    assert.ok((await stat(tree)).isDirectory());
  });

  it('a killed run’s staging directory and its record beside the target are removed by the next pull', async () => {
    const dir = await fresh();
    const orphan = join(dir, '.tree.999999999-0badcafe.ocipull-tmp');
    await mkdir(orphan);
    await writeFile(`${orphan}.rootfs-record.jsonl`, '{"op":"delete","path":"x"}\n');
    // Not ours by name: kept.
    await writeFile(join(dir, '.tree.999999999-0badcafe.ocipull-tmp.other'), 'keep');
    const r = await pull(['-o', join(dir, 'tree'), '-q']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await readdir(dir)).sort(), ['.tree.999999999-0badcafe.ocipull-tmp.other', 'tree']);
  });

  it('-o DIR/ and no -o name the output by the platform inside the directory', async () => {
    const dir = await fresh();
    const r = await pull(['-o', `${join(dir, 'made')}/`, '--format', 'tar', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).output, join(dir, 'made', 'rootfs-amd64.tar'));
    const cwd = await fresh();
    const here = await pull(['-q'], cwd);
    assert.equal(here.code, 0, here.stderr);
    assert.deepEqual(await readdir(cwd), ['rootfs-amd64']);
  });

  it('--format tar: tar -tvf lists the image owners and modes; GNU tar restores its user xattrs', async () => {
    const dir = await fresh();
    const out = join(dir, 'root.tar');
    const r = await pull(['-o', out, '--format', 'tar', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).format, 'tar');
    const listing = execFileSync('tar', ['-tvf', out, '--numeric-owner'], { encoding: 'utf8' });
    assert.match(listing, /^-rwsr-xr-x 0\/0 .* bin\/tool$/m);
    assert.match(listing, /^drwxr-s--- 0\/7 .* run\/$/m);
    assert.match(listing, /^lrwxrwxrwx 0\/0 .* var\/empty -> \.\.\/tmp$/m);
    assert.match(
      listing,
      /^hrwsr-xr-x 0\/0 .* etc\/hl link to bin\/tool$|^hrwsr-xr-x 0\/0 .* bin\/tool link to etc\/hl$/m,
    );
    const back = join(dir, 'back');
    await mkdir(back);
    execFileSync('tar', ['--xattrs', '--xattrs-include=user.*', '-xpf', out, '-C', back]);
    assert.deepEqual(diffShapes(withoutRoot(shapeOf(await listTree(back))), expected), []);
    const note = execFileSync(
      'getfattr',
      ['--absolute-names', '--only-values', '-n', 'user.note', join(back, 'bin', 'tool')],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(note, 'hello');
  });

  it('--format ext4 --size 64M: that size, e2fsck -fn clean, the image owners and xattrs inside', async () => {
    const dir = await fresh();
    const out = join(dir, 'root.ext4');
    const r = await pull(['-o', out, '--format', 'ext4', '--size', '64M', '-q']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await stat(out)).size, 64 * 1024 * 1024);
    execFileSync('e2fsck', ['-fn', out], { stdio: 'pipe' });
    const debugfs = (request: string) =>
      execFileSync('debugfs', ['-R', request, out], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    const inode = (path: string) => debugfs(`stat ${path}`);
    assert.match(inode('/bin/tool'), /Mode:\s+04755/);
    assert.match(inode('/run'), /Mode:\s+02750/);
    assert.match(inode('/run'), /User:\s+0\s+Group:\s+7\b/);
    assert.match(debugfs('ea_list /bin/tool'), /user\.note \(5\) = "hello"/);
  });

  it('--format erofs: fsck.erofs clean, and mounted read-only it holds umoci’s tree', async () => {
    const dir = await fresh();
    const out = join(dir, 'root.erofs');
    const r = await pull(['-o', out, '--format', 'erofs', '-q']);
    assert.equal(r.code, 0, r.stderr);
    execFileSync('fsck.erofs', [out], { stdio: 'pipe' });
    const mounted = await withMounted(out, 'erofs', join(dir, 'mnt'), async (at) => {
      const note = execFileSync(
        'getfattr',
        ['--absolute-names', '--only-values', '-n', 'user.note', join(at, 'bin', 'tool')],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(note, 'hello');
      return withoutRoot(shapeOf(await listTree(at)));
    });
    assert.deepEqual(diffShapes(mounted, expected), []);
  });

  it('--metadata FILE holds the runtime settings, written only when the pull succeeded', async () => {
    const dir = await fresh();
    const file = join(dir, 'runtime.json');
    const r = await pull(['-o', join(dir, 'tree'), '--metadata', file, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), runtimeSettings(config));
    assert.equal(JSON.parse(r.stdout).metadata, file);
    // A pull that fails (the tree exists) writes no metadata.
    const other = join(dir, 'other.json');
    assert.equal((await pull(['-o', join(dir, 'tree'), '--metadata', other, '-q'])).code, 8);
    await assert.rejects(stat(other), { code: 'ENOENT' });
  });

  it('the rootfs options refused with ROOTFS_OPTION_INVALID (exit 2), naming what is accepted', async () => {
    const dir = await fresh();
    const cases: [string[], RegExp, boolean?][] = [
      [['--format', 'squashfs'], /tree, tar, ext4, erofs/],
      [['--size', '1G'], /--format ext4 or --format erofs/],
      [['--format', 'tar', '--size', '1G'], /--format ext4 or --format erofs/],
      [['--format', 'ext4', '--size', 'lots'], /512M, 2G/],
      // A rootfs flag on a disk pull: the kind to add is named.
      [['--format', 'ext4'], /--kind rootfs/, true],
    ];
    for (const [args, hint, disk] of cases) {
      const r = disk
        ? await runCli([
            'pull',
            `oci:${layout}:test`,
            '--cache-dir',
            join(base, 'cache'),
            '-o',
            join(dir, 'x'),
            '--json',
            ...args,
          ])
        : await pull(['-o', join(dir, 'x'), '--json', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      const error = failure(r.stdout);
      assert.equal(error.code, 'ROOTFS_OPTION_INVALID', args.join(' '));
      assert.match(`${error.message} ${error.hint}`, hint, args.join(' '));
    }
    assert.deepEqual(await readdir(dir), [], 'nothing written');
  });

  it('kinds.rootfs settings from the config file: format and size, and a limit stopping the pull', async () => {
    const dir = await fresh();
    const configFile = join(dir, 'ocipull.json');
    await writeFile(configFile, JSON.stringify({ kinds: { rootfs: { format: 'ext4', size: '48M' } } }));
    const r = await pull(['--config', configFile, '-o', join(dir, 'root.ext4'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).format, 'ext4');
    assert.equal((await stat(join(dir, 'root.ext4'))).size, 48 * 1024 * 1024);
    // The flag wins over the file, the file's other keys stay (the limit still applies).
    await writeFile(
      configFile,
      JSON.stringify({ kinds: { rootfs: { format: 'ext4', limits: { layerEntries: 3 } } } }),
    );
    const limited = await pull([
      '--config',
      configFile,
      '--format',
      'tree',
      '-o',
      join(dir, 'tree'),
      '--json',
    ]);
    assert.equal(limited.code, 7, limited.stderr);
    assert.equal(failure(limited.stdout).code, 'LAYER_ENTRY_LIMIT');
    assert.deepEqual(await readdir(dir), ['ocipull.json', 'root.ext4']);
  });

  it('a second image sharing the layers fetches only what it does not share (bytesFetched)', async () => {
    const cache = join(base, 'shared-cache');
    const relabelled = await variant(layout, join(base, 'relabelled'), ({ config: c }) => {
      (c.config as { Labels: Record<string, string> }).Labels = { other: 'image' };
    });
    const pullInto = async (source: string) => {
      const run = await runCli([
        'pull',
        source,
        '--kind',
        'rootfs',
        '--cache-dir',
        cache,
        '-o',
        join(await fresh(), 't'),
        '--json',
      ]);
      assert.equal(run.code, 0, run.stderr);
      return run;
    };
    const first = await pullInto(`oci:${layout}:test`);
    const second = await pullInto(`oci:${relabelled}:test`);
    const one = JSON.parse(first.stdout);
    const two = JSON.parse(second.stdout);
    const { size: configSize } = await stat(
      join(relabelled, 'blobs', ...(await configDigestOf(relabelled)).split(':')),
    );
    assert.equal(two.bytesFetched, configSize, 'only the new config is fetched');
    assert.ok(one.bytesFetched > two.bytesFetched * 10);
    assert.deepEqual(two.runtime.labels, { other: 'image' });
  });

  it('a corrupt diff_id in the last layer: DIGEST_MISMATCH, nothing at DIR, no staging dir beside it', async () => {
    const bad = await variant(layout, join(base, 'bad-diff'), ({ config: c }) => {
      const rootfs = c.rootfs as { diff_ids: string[] };
      rootfs.diff_ids[rootfs.diff_ids.length - 1] = `sha256:${'0'.repeat(64)}`;
    });
    const dir = await fresh();
    const r = await pull(['-o', join(dir, 'tree'), '--json'], base, `oci:${bad}:test`);
    assert.equal(r.code, 5, r.stderr);
    const error = failure(r.stdout);
    assert.equal(error.code, 'DIGEST_MISMATCH');
    assert.match(error.message, new RegExp(`layer ${SAMPLE_STEPS.length - 1} .*diff_id`));
    assert.deepEqual(await readdir(dir), []);
  });

  it('a Docker schema 1 manifest is MANIFEST_SCHEMA1 (exit 7) with the way out', async () => {
    const old = await schema1Variant(layout, join(base, 'schema1'));
    const dir = await fresh();
    const r = await pull(['-o', join(dir, 'tree'), '--json'], base, `oci:${old}:test`);
    assert.equal(r.code, 7, r.stderr);
    const error = failure(r.stdout);
    assert.equal(error.code, 'MANIFEST_SCHEMA1');
    assert.match(error.message, /schema 1/);
    assert.match(error.hint ?? '', /v2s2/);
    assert.deepEqual(await readdir(dir), []);
  });

  it('non-distributable layers: LAYER_NOT_DISTRIBUTABLE with a hint, pulled once kinds.rootfs.allowUrls allows their urls', async () => {
    const foreign = await variant(layout, join(base, 'foreign'), ({ manifest }) => {
      const layers = manifest.layers as { mediaType: string; urls?: string[] }[];
      layers[0]!.mediaType = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
      layers[0]!.urls = ['https://blobs.example.com/base.tar.gz'];
    });
    const dir = await fresh();
    const r = await pull(['-o', join(dir, 'tree'), '--json'], base, `oci:${foreign}:test`);
    assert.equal(r.code, 7, r.stderr);
    const error = failure(r.stdout);
    assert.equal(error.code, 'LAYER_NOT_DISTRIBUTABLE');
    assert.match(error.message, /blobs\.example\.com/);
    assert.match(error.hint ?? '', /allowUrls/);
    assert.deepEqual(await readdir(dir), []);
    const configFile = join(dir, 'ocipull.json');
    await writeFile(
      configFile,
      JSON.stringify({ kinds: { rootfs: { allowUrls: ['https://blobs.example.com/'] } } }),
    );
    const allowed = await pull(
      ['--config', configFile, '-o', join(dir, 'tree'), '-q'],
      base,
      `oci:${foreign}:test`,
    );
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.deepEqual(diffShapes(withoutRoot(shapeOf(await listTree(join(dir, 'tree')))), expected), []);
  });

  it('docker:// without a tag pulls :latest for this kind (the disk kind would ask for the machine-os tag)', async () => {
    const registry = await startRegistry(join(base, 'registry'));
    try {
      execFileSync('skopeo', [
        '--insecure-policy',
        'copy',
        '--dest-tls-verify=false',
        `oci:${layout}:test`,
        `docker://${registry.addr}/img:latest`,
      ]);
      const dir = await fresh();
      const source = `docker://${registry.addr}/img`;
      const r = await pull(['-o', join(dir, 'tree'), '--tls-verify=false', '--json'], base, source);
      assert.equal(r.code, 0, r.stderr);
      assert.match(JSON.parse(r.stdout).source, /img:latest$/);
      assert.deepEqual(diffShapes(withoutRoot(shapeOf(await listTree(join(dir, 'tree')))), expected), []);
      const disk = await runCli([
        'pull',
        source,
        '--tls-verify=false',
        '--cache-dir',
        join(base, 'cache'),
        '-o',
        join(dir, 'disk'),
        '--json',
      ]);
      assert.notEqual(disk.code, 0);
      assert.match(failure(disk.stdout).message, /img:5\.5|5\.5/);
    } finally {
      await registry.stop();
    }
  });
});
