/**
 * Publishing to a real registry (Debian's docker-registry): 401 without credentials, the push
 * scope (and a mount's pull scope) in the token flow, and no half-published tag after a failure.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { compress, makeDisk, run } from '../support/disks.js';
import { sha256Digest } from '../support/independent.js';
import { buildMachineOsLayout } from '../support/machine-os.js';
import { packMachineOs } from '../support/pack.js';
import { tempDir } from '../support/paths.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

const sha256 = sha256Digest;

describe('push to a real registry: auth and failures', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let plain: TestRegistry;
  let basic: TestRegistry;
  let token: TestRegistry;
  let qcow2: string;
  let raw: string;
  const env = () => ({
    HOME: join(dir, 'home'),
    REGISTRY_AUTH_FILE: '',
    DOCKER_CONFIG: join(dir, 'docker'),
    XDG_RUNTIME_DIR: '',
  });
  const cli = (args: string[]) => runCli(args, { env: env() });

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-push-'));
    [plain, basic, token] = await Promise.all([
      startRegistry(join(dir, 'reg-plain')),
      startRegistry(join(dir, 'reg-basic'), { mode: 'basic' }),
      startRegistry(join(dir, 'reg-token'), { mode: 'token' }),
    ]);
    qcow2 = await makeDisk(dir, { format: 'qcow2', sizeMiB: 16, dataMiB: 1, seed: 91, name: 'm.qcow2' });
    raw = await makeDisk(dir, { format: 'raw', sizeMiB: 16, dataMiB: 1, seed: 92, name: 'm.raw' });
  });
  after(async () => {
    await Promise.all([plain, basic, token].map((r) => r?.stop()));
    await cleanup();
  });

  test('Basic auth: no credentials is UNAUTHORIZED (exit 4) and leaves nothing; --creds pushes', async () => {
    const ref = `docker://${basic.addr}/private/os:1`;
    const denied = await cli(['pack', ref, '--disk', `qemu=${qcow2}`, '--json']);
    assert.equal(denied.code, 4, denied.stderr);
    assert.equal(JSON.parse(denied.stdout).error.code, 'UNAUTHORIZED');
    assert.match(JSON.parse(denied.stdout).error.hint, /push access/);
    const ok = await cli(['pack', ref, '--disk', `qemu=${qcow2}`, '--creds', 'alice:secret-alice', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(!ok.stderr.includes('secret-alice'));
    const raw3 = await run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--creds',
      'alice:secret-alice',
      ref,
    ]);
    assert.equal(sha256(Buffer.from(raw3)), JSON.parse(ok.stdout).indexDigest);
  });

  test('token auth: the push scope is asked for, and a mount asks for pull on the source repository', async () => {
    const ref = `docker://${token.addr}/team/os:1`;
    const packed = await cli([
      'pack',
      ref,
      '--disk',
      `qemu=${qcow2}`,
      '--creds',
      'alice:secret-alice',
      '--json',
    ]);
    assert.equal(packed.code, 0, packed.stderr);
    assert.ok(
      token.tokenRequests.some((r) => r.authorized && r.scope.includes('repository:team/os:pull,push')),
    );
    const copy = await cli([
      'copy',
      '--all',
      ref,
      `docker://${token.addr}/other/os:1`,
      '--creds',
      'alice:secret-alice',
      '--json',
    ]);
    assert.equal(copy.code, 0, copy.stderr);
    assert.ok(JSON.parse(copy.stdout).blobs.mounted >= 1);
    assert.ok(
      token.tokenRequests.some(
        (r) =>
          r.scope.includes('repository:other/os:pull,push') && r.scope.includes('repository:team/os:pull'),
      ),
    );
  });

  test('copy takes credentials per side: --src-creds for SOURCE, --dest-creds for DEST', async () => {
    const from = `docker://${basic.addr}/private/side:1`;
    const packed = await cli([
      'pack',
      from,
      '--disk',
      `qemu=${qcow2}`,
      '--creds',
      'alice:secret-alice',
      '--json',
    ]);
    assert.equal(packed.code, 0, packed.stderr);
    const to = `docker://${token.addr}/side/os:1`;
    const srcOnly = await cli(['copy', '--all', from, to, '--src-creds', 'alice:secret-alice', '--json']);
    assert.equal(srcOnly.code, 4, srcOnly.stderr);
    assert.equal(JSON.parse(srcOnly.stdout).error.code, 'UNAUTHORIZED');
    assert.match(JSON.parse(srcOnly.stdout).error.message, new RegExp(token.addr.replace(/\./g, '\\.')));
    const both = await cli([
      'copy',
      '--all',
      from,
      to,
      '--src-creds',
      'alice:secret-alice',
      '--dest-creds=alice:secret-alice',
      '--json',
      '--debug',
    ]);
    assert.equal(both.code, 0, both.stderr);
    assert.equal(JSON.parse(both.stdout).digest, JSON.parse(packed.stdout).indexDigest, 'digests preserved');
    assert.ok(!`${both.stdout}${both.stderr}${srcOnly.stdout}${srcOnly.stderr}`.includes('secret-alice'));
  });

  test('a copy that fails half way leaves the tag where it was', async () => {
    const ref = `docker://${plain.addr}/stable/os:1`;
    const first = await packMachineOs(ref, {
      env: env(),
      disks: [{ diskType: 'qemu', arch: 'x86_64', path: qcow2 }],
    });
    // A source layout with a disk blob missing: its manifest can be read, its layer cannot.
    const broken = await buildMachineOsLayout(join(dir, 'broken'), {
      tag: 'x',
      nested: true,
      disks: [{ diskType: 'applehv', arch: 'x86_64', path: await compress(raw, 'gzip') }],
    });
    await fsp.rm(join(broken.layoutDir, 'blobs', 'sha256', broken.disks[0]!.blobDigest.slice(7)));
    const failed = await cli(['copy', '--all', `oci-dir:${broken.layoutDir}:x`, ref, '--json']);
    assert.equal(failed.code, 3, failed.stderr);
    assert.equal(JSON.parse(failed.stdout).error.code, 'BLOB_NOT_FOUND');
    const now = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', ref]);
    assert.equal(sha256(Buffer.from(now)), first.indexDigest);
    const manifest = await fetch(
      `http://${plain.addr}/v2/stable/os/manifests/${broken.disks[0]!.manifestDigest}`,
      {
        method: 'HEAD',
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      },
    );
    assert.equal(manifest.status, 404);
  });
});
