/**
 * Command-line conventions, through the real CLI: typos get a "did you mean", flags refuse what
 * the configuration refuses, and errors read cleanly.
 */
import assert from 'node:assert/strict';
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
});
