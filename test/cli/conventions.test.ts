/**
 * Command-line conventions, through the real CLI: typos get a "did you mean", flags refuse what
 * the configuration refuses, and errors read cleanly.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../support/cli.js';
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
});
