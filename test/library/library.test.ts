/**
 * The library does what the CLI does: `createOrchestrator(options)` resolves configuration as
 * the CLI does (discovery from `cwd`, presets, options over the file) and its methods give the
 * same results as the commands (pull's bytes, inspect's JSON, the cache's listing and export).
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger, createOrchestrator, isOcipullError } from 'ocipull';
import { runCli } from '../support/cli.js';
import { repoRoot, tempDir } from '../support/paths.js';

const EXAMPLE = join(repoRoot, 'examples', 'machine-os');
const SOURCE = `oci-dir:${EXAMPLE}:latest`;

describe('createOrchestrator: the library does what the CLI does', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const silent = createLogger('silent');

  before(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  after(() => cleanup());

  test('pull writes the same bytes as `ocipull pull`, and inspect prints what `ocipull inspect --json` prints', async () => {
    const cacheDir = join(dir, 'cache-a');
    const ocipull = await createOrchestrator({
      preset: 'qemu',
      arch: 'arm64',
      cacheDir,
      cwd: dir,
      log: silent,
    });
    const out = join(dir, 'lib.qcow2');
    const result = await ocipull.pull({ source: SOURCE, output: out });
    assert.equal(result.diskType, 'qemu');
    assert.deepEqual(result.platform, { os: 'linux', architecture: 'aarch64' });
    const cliOut = join(dir, 'cli.qcow2');
    const cli = await runCli(
      [
        'pull',
        SOURCE,
        '--preset',
        'qemu',
        '--arch',
        'arm64',
        '--cache-dir',
        join(dir, 'cache-b'),
        '-o',
        cliOut,
      ],
      { cwd: dir },
    );
    assert.equal(cli.code, 0, cli.stderr);
    assert.ok((await fsp.readFile(out)).equals(await fsp.readFile(cliOut)), 'the same disk');

    const report = await ocipull.inspect({ source: SOURCE });
    const printed = await runCli(['inspect', SOURCE, '--preset', 'qemu', '--cache-dir', cacheDir, '--json'], {
      cwd: dir,
    });
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(`${JSON.stringify(report, null, 2)}\n`, printed.stdout);
    assert.ok(report.disks.length >= 2, 'the example lists disks');
    const arm = await ocipull.inspect({ source: SOURCE, platform: { arch: 'aarch64' } });
    assert.ok(arm.disks.length > 0 && arm.disks.every((d) => d.platform.architecture === 'aarch64'));

    const listed = await ocipull.cache.ls();
    assert.equal(listed.dir, cacheDir);
    assert.ok(listed.entries.some((e) => e.digest === result.blobDigest));
    const exported = await ocipull.cache.export({
      source: SOURCE,
      destination: `oci-dir:${join(dir, 'air')}:v1`,
    });
    assert.equal(exported.disks, 1);
    const again = await createOrchestrator({
      preset: 'qemu',
      arch: 'arm64',
      cacheDir: join(dir, 'c3'),
      cwd: dir,
      log: silent,
    });
    const copy = join(dir, 'air.qcow2');
    await again.pull({ source: `oci-dir:${join(dir, 'air')}:v1`, output: copy });
    assert.ok(
      (await fsp.readFile(copy)).equals(await fsp.readFile(out)),
      'the export pulls back the same disk',
    );
    const pruned = await ocipull.cache.prune({ all: true });
    assert.ok(pruned.entries.length >= 1);
    assert.deepEqual((await ocipull.cache.ls()).entries, []);
  });

  test('the config file found from cwd is read, and options are laid over it like flags', async () => {
    const project = join(dir, 'project');
    await fsp.mkdir(join(project, 'sub'), { recursive: true });
    await fsp.writeFile(
      join(project, '.ocipullrc.json'),
      JSON.stringify({ preset: 'applehv', cacheDir: join(dir, 'from-file'), machineOsVersion: '9.1' }),
    );
    const fromFile = await createOrchestrator({ cwd: join(project, 'sub'), log: silent });
    assert.equal(fromFile.config.file, join(project, '.ocipullrc.json'));
    assert.equal(fromFile.settings.diskType, 'applehv');
    assert.equal(fromFile.settings.cacheDir, join(dir, 'from-file'));
    const cli = await runCli(['config', '--json'], { cwd: join(project, 'sub') });
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout), JSON.parse(JSON.stringify(fromFile.describeConfig())));

    const laid = await createOrchestrator({
      cwd: join(project, 'sub'),
      preset: 'qemu',
      cacheDir: join(dir, 'from-options'),
      machineOsVersion: '9.2',
      log: silent,
    });
    assert.equal(laid.settings.diskType, 'qemu');
    assert.equal(laid.settings.cacheDir, join(dir, 'from-options'));
    assert.equal(laid.settings.machineOsVersion, '9.2');
    const none = await createOrchestrator({ cwd: join(project, 'sub'), configFile: false, log: silent });
    assert.equal(none.config.file, undefined);
    assert.equal(none.settings.machineOsVersion === '9.1', false);
  });

  test('options are checked as the config file is: a bad key or value is CONFIG_INVALID, a bad arch USAGE', async () => {
    await assert.rejects(
      createOrchestrator({ configFile: false, mirrors: 'nope' as never, log: silent }),
      (e) => isOcipullError(e) && e.code === 'CONFIG_INVALID' && /mirrors/.test(e.message),
    );
    await assert.rejects(
      createOrchestrator({ configFile: false, progress: 'loud' as never, log: silent }),
      (e) => isOcipullError(e) && e.code === 'CONFIG_INVALID' && /^progress "loud"/.test(e.message),
    );
    await assert.rejects(
      createOrchestrator({ configFile: false, arch: 'amd46', log: silent }),
      (e) =>
        isOcipullError(e) &&
        e.code === 'USAGE' &&
        /^arch "amd46" is not a known architecture/.test(e.message),
    );
  });

  test('the kinds describe: inspect asks the disk kind', async () => {
    const ocipull = await createOrchestrator({
      preset: 'qemu',
      cacheDir: join(dir, 'c4'),
      cwd: dir,
      log: silent,
    });
    assert.equal(typeof ocipull.kinds.get('disk').describe, 'function');
    await assert.rejects(
      createOrchestrator({
        preset: 'qemu',
        kind: 'bundle',
        cacheDir: join(dir, 'c5'),
        cwd: dir,
        log: silent,
      }).then((o) => o.inspect({ source: SOURCE })),
      (e) => isOcipullError(e) && e.code === 'NO_KIND',
    );
  });

  test('a pull aborted by a plain AbortController is INTERRUPTED, with nothing at the output', async () => {
    const ocipull = await createOrchestrator({
      preset: 'qemu',
      cacheDir: join(dir, 'cache-abort'),
      cwd: dir,
      log: silent,
    });
    const controller = new AbortController();
    controller.abort();
    const out = join(dir, 'aborted.qcow2');
    await assert.rejects(
      ocipull.pull({ source: SOURCE, output: out, signal: controller.signal }),
      (error) => {
        assert.ok(isOcipullError(error, 'INTERRUPTED'), String(error));
        return true;
      },
    );
    await assert.rejects(fsp.stat(out), { code: 'ENOENT' });
  });
});
