/**
 * Command-line conventions, through the real CLI: typos get a "did you mean", flags refuse what
 * the configuration refuses, and errors read cleanly.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../support/cli.js';
import { compress, makeDisk } from '../support/disks.js';
import { buildMachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';

describe('CLI conventions', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  const cli = (args: string[]) => runCli(args, { cwd: tmp.dir, env: { XDG_CACHE_HOME: tmp.dir } });

  before(async () => {
    tmp = await tempDir('ocipull-conventions-');
  });
  after(async () => {
    await tmp.cleanup();
  });

  it('a misspelt option suggests the real one', async () => {
    const r = await cli(['pull', 'oci-dir:./nowhere:latest', '--presett', 'qemu']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /unknown option '--presett'/);
    assert.match(r.stderr, /Did you mean --preset\?/);
  });

  it('a misspelt transport suggests the configured one, spelt as written', async () => {
    const docker = await cli(['pull', 'dokcer://x']);
    assert.equal(docker.code, 2, docker.stderr);
    assert.match(
      docker.stderr,
      /error \[NO_TRANSPORT\]: unknown transport dokcer: did you mean docker:\/\/\?/,
    );
    const dir = await cli(['inspect', 'oci-dri:./x:latest', '--json']);
    assert.match(dir.stderr, /unknown transport oci-dri: did you mean oci-dir:\?/);
    assert.equal(JSON.parse(dir.stdout).error.data.didYouMean, 'oci-dir');
    const far = await cli(['pull', 'zzz:./x']);
    assert.match(far.stderr, /no transport plugin handles "zzz:" sources/);
    assert.doesNotMatch(far.stderr, /did you mean/);
  });
  it('a misspelt --arch is refused at once with the closest architecture, in every spelling', async () => {
    // The source does not exist: a refusal naming the architecture proves it came first.
    for (const args of [
      ['--arch', 'amd46'],
      ['--override-arch', 'amd46'],
      ['--platform', 'linux/amd46'],
    ]) {
      const r = await cli(['pull', 'oci-dir:./nowhere:latest', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /error \[USAGE\]: --arch "amd46" is not a known architecture/);
      assert.match(r.stderr, /did you mean "amd64"\?/);
    }
    const inspect = await cli(['inspect', 'oci-dir:./nowhere:latest', '--arch', 'arm46']);
    assert.equal(inspect.code, 2, inspect.stderr);
    assert.match(inspect.stderr, /did you mean "arm64"\?/);
    // Both namings of a real architecture pass this check (and fail later, on the missing layout).
    for (const arch of ['x86_64', 'amd64', 'aarch64', 'riscv64']) {
      const r = await cli(['pull', 'oci-dir:./nowhere:latest', '--arch', arch]);
      assert.doesNotMatch(r.stderr, /not a known architecture/);
      assert.match(r.stderr, /LAYOUT_MISSING/);
    }
  });

  it('--progress refuses what the config refuses, with the same code and accepted values', async () => {
    const file = join(tmp.dir, 'bad-progress.json');
    await fsp.writeFile(file, JSON.stringify({ progress: 'fancy' }));
    const fromFile = await cli(['pull', 'oci-dir:./nowhere:latest', '--config', file, '--json']);
    const fromFlag = await cli(['pull', 'oci-dir:./nowhere:latest', '--progress', 'fancy', '--json']);
    assert.equal(fromFlag.code, fromFile.code);
    assert.equal(fromFlag.code, 2);
    const a = JSON.parse(fromFile.stdout).error;
    const b = JSON.parse(fromFlag.stdout).error;
    assert.equal(a.code, 'CONFIG_INVALID');
    assert.equal(b.code, 'CONFIG_INVALID');
    assert.deepEqual(b.data.issues, a.data.issues);
    assert.match(
      fromFlag.stderr,
      /error \[CONFIG_INVALID\]: --progress "fancy": has a value that is not accepted \(accepted: "auto", "plain", "json", "none"\)/,
    );
    // An accepted value passes the check (and the pull then fails on the missing layout).
    const ok = await cli(['pull', 'oci-dir:./nowhere:latest', '--progress', 'plain']);
    assert.match(ok.stderr, /LAYOUT_MISSING/);
  });
  it('a bad JSON config found by search: named by its path, one plain code frame', async () => {
    const dir = join(tmp.dir, 'bad-json');
    await fsp.mkdir(dir);
    const file = join(dir, '.ocipullrc.json');
    await fsp.writeFile(file, '{\n  "progress": "plain",\n  "preset": "qemu",\n}\n');
    // FORCE_COLOR asks the code-frame library for colour: none may reach the message.
    const r = await runCli(['pull', 'oci-dir:./nowhere:latest', '--json'], {
      cwd: dir,
      env: { XDG_CACHE_HOME: tmp.dir, FORCE_COLOR: '1' },
    });
    assert.equal(r.code, 2, r.stderr);
    const error = JSON.parse(r.stdout).error;
    assert.equal(error.code, 'CONFIG_LOAD_FAILED');
    assert.equal(error.data.file, file);
    assert.ok(
      error.message.startsWith(`cannot read ${file}: Expected double-quoted property name`),
      error.message,
    );
    assert.doesNotMatch(error.message, /\u001b|while parsing|JSON Error in/);
    assert.equal(error.message.split('> 4 | }').length, 2, error.message);
    assert.equal(r.stderr.split('> 4 | }').length, 2, r.stderr);
    assert.match(r.stderr, /^error \[CONFIG_LOAD_FAILED\]: cannot read .*\.ocipullrc\.json: /);
    assert.match(r.stderr, /\n {2}3 \| {3}"preset": "qemu",\n> 4 \| }\n {4}\| \^\n/);
  });
  it('--platform OS/ARCH, beside --arch/--os and skopeo --override-*; disagreeing flags refused', async () => {
    const src = join(tmp.dir, 'platform-src');
    await fsp.mkdir(src);
    const zst = await compress(
      await makeDisk(src, { format: 'qcow2', sizeMiB: 2, dataMiB: 1, seed: 7 }),
      'zstd',
    );
    const layout = join(tmp.dir, 'platform-layout');
    await buildMachineOsLayout(layout, {
      tag: '1',
      builder: 'store',
      disks: [
        { diskType: 'qemu', arch: 'x86_64', path: zst },
        { diskType: 'qemu', arch: 'aarch64', path: zst },
      ],
    });
    const source = `oci-dir:${layout}:1`;
    const pull = (out: string, ...flags: string[]) =>
      cli(['pull', source, '--preset', 'qemu', '-o', join(tmp.dir, out), '--json', ...flags]);
    const byPlatform = await pull('p.qcow2', '--platform', 'linux/arm64');
    assert.equal(byPlatform.code, 0, byPlatform.stderr);
    assert.equal(JSON.parse(byPlatform.stdout).platform.architecture, 'aarch64');
    const bySkopeo = await pull('s.qcow2', '--override-arch', 'amd64', '--override-os', 'linux');
    assert.equal(bySkopeo.code, 0, bySkopeo.stderr);
    assert.equal(JSON.parse(bySkopeo.stdout).platform.architecture, 'x86_64');
    // Agreeing spellings (aarch64 = arm64) are one platform; disagreeing ones are a usage error.
    const agree = await pull('a.qcow2', '--platform', 'linux/arm64', '--arch', 'aarch64');
    assert.equal(agree.code, 0, agree.stderr);
    const clash = await pull('c.qcow2', '--platform', 'linux/arm64', '--arch', 'amd64');
    assert.equal(clash.code, 2);
    assert.equal(JSON.parse(clash.stdout).error.code, 'USAGE');
    assert.match(clash.stderr, /--arch says arch "amd64" but --platform says "arm64"/);
    await assert.rejects(fsp.stat(join(tmp.dir, 'c.qcow2')));
    const bad = await pull('b.qcow2', '--platform', 'arm64');
    assert.match(bad.stderr, /error \[USAGE\]: --platform "arm64" is not OS\/ARCH\[\/VARIANT\]/);
    // A variant the index does not name matches no disk.
    const variant = await pull('v.qcow2', '--platform', 'linux/arm64/v9');
    assert.equal(JSON.parse(variant.stdout).error.code, 'NO_MATCHING_DISK');
    // Global --debug / -v / --verbose, before or after the subcommand: debug lines (a cache hit).
    for (const [i, args] of [
      ['--debug', 'pull'],
      ['-v', 'pull'],
      ['pull', '-v'],
      ['--verbose', 'pull'],
    ].entries()) {
      const [first, second] = args as [string, string];
      const r = await cli([
        first,
        second,
        source,
        '--preset',
        'qemu',
        '--arch',
        'arm64',
        '-o',
        join(tmp.dir, `d${i}.qcow2`),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /cache: hit sha256:/, `${args.join(' ')}: ${r.stderr}`);
    }
    const quiet = await cli([
      'pull',
      source,
      '--preset',
      'qemu',
      '--arch',
      'arm64',
      '-o',
      join(tmp.dir, 'dq.qcow2'),
    ]);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /cache: hit/);
    // inspect: everything without a platform, one platform with it.
    const all = JSON.parse((await cli(['inspect', source, '--json'])).stdout);
    assert.equal(all.disks.length, 2);
    const arm = JSON.parse((await cli(['inspect', source, '--json', '--platform', 'linux/aarch64'])).stdout);
    assert.deepEqual(
      arm.disks.map((d: { platform: { architecture: string } }) => d.platform.architecture),
      ['aarch64'],
    );
  });
  it('redaction leaves the --creds advice intact and hides userinfo in the resolve line', async () => {
    // The password is a word of the hint itself: the hint must still read as written.
    const r = await cli(['pull', 'docker://someone:PASSWORD@127.0.0.1:9/x:1', '--creds', 'someone:PASSWORD']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /error \[REFERENCE_INVALID\]/);
    assert.match(
      r.stderr,
      /hint: drop the USER:PASSWORD@ part and pass --creds USER:PASSWORD \(or --authfile FILE/,
    );
    assert.match(r.stderr, /^ocipull: resolve docker:\/\/<credentials>@127\.0\.0\.1:9\/x:1$/m);
    assert.doesNotMatch(r.stderr, /someone/);
    // A password equal to "creds" does not garble the flag's name in a usage error.
    const usage = await cli(['pull', 'docker://127.0.0.1:9/x:1', '--creds', 'creds', '--offline']);
    assert.doesNotMatch(usage.stderr, /--\*\*\*/);
    const secret = await cli([
      'pull',
      'docker://127.0.0.1:9/x:1',
      '--creds',
      'u:s3cr3t-pw',
      '--offline',
      '--debug',
    ]);
    assert.doesNotMatch(secret.stderr, /s3cr3t-pw/);
  });
});
