/**
 * Publishing to a real registry (Debian's docker-registry) and checking with the real tools:
 * what ocipull pushes, skopeo sees and copies with the same digests; what skopeo pushes, ocipull
 * pulls and copies; mounts across repositories, chunked uploads (auth and failures: registry-auth).
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ImageIndex } from 'ocipull';
import { runCli } from '../support/cli.js';
import { compress, makeDisk, run } from '../support/disks.js';
import { prngBytes } from '../support/files.js';
import { sha256Digest } from '../support/independent.js';
import { buildMachineOsLayout } from '../support/machine-os.js';
import { packMachineOs } from '../support/pack.js';
import { tempDir } from '../support/paths.js';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.js';

const sha256 = sha256Digest;

describe('push to a real registry', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let plain: TestRegistry;
  let qcow2: string;
  let raw: string;
  let vhdx: string;
  const env = () => ({
    HOME: join(dir, 'home'),
    REGISTRY_AUTH_FILE: '',
    DOCKER_CONFIG: join(dir, 'docker'),
    XDG_RUNTIME_DIR: '',
  });
  const cli = (args: string[]) => runCli(args, { env: env() });

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-push-'));
    plain = await startRegistry(join(dir, 'reg-plain'));
    qcow2 = await makeDisk(dir, { format: 'qcow2', sizeMiB: 16, dataMiB: 1, seed: 91, name: 'm.qcow2' });
    raw = await makeDisk(dir, { format: 'raw', sizeMiB: 16, dataMiB: 1, seed: 92, name: 'm.raw' });
    // A hyperv entry carries a vhdx: the puller checks the disk's bytes against its title.
    vhdx = await makeDisk(dir, { format: 'vhdx', sizeMiB: 16, dataMiB: 1, seed: 93, name: 'm.vhdx' });
  });
  after(async () => {
    await Promise.all([plain].map((r) => r?.stop()));
    await cleanup();
  });

  test('pack → skopeo inspect --raw shows the index; skopeo copy --all fetches the same digests; ocipull pulls it back', async () => {
    const ref = `docker://${plain.addr}/podman/machine-os:5.5`;
    const packed = await packMachineOs(ref, {
      env: env(),
      disks: [
        { diskType: 'qemu', arch: 'x86_64', path: qcow2 },
        { diskType: 'applehv', arch: 'aarch64', path: raw },
      ],
    });
    const raw1 = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', ref]);
    assert.equal(sha256(Buffer.from(raw1)), packed.indexDigest);
    const index = JSON.parse(raw1) as ImageIndex;
    assert.deepEqual(
      index.manifests.map((m) => [m.digest, m.annotations?.disktype, m.platform?.architecture]),
      packed.disks.map((d) => [d.manifestDigest, d.hypervisor, d.platform.architecture]),
    );
    const copied = join(dir, 'skopeo-copy');
    await run('skopeo', [
      '--insecure-policy',
      'copy',
      '--all',
      '--preserve-digests',
      '--src-tls-verify=false',
      ref,
      `oci:${copied}:5.5`,
    ]);
    const top = JSON.parse(await fsp.readFile(join(copied, 'index.json'), 'utf8')) as ImageIndex;
    assert.equal(top.manifests[0]!.digest, packed.indexDigest);
    for (const d of packed.disks) {
      for (const digest of [d.manifestDigest, d.blobDigest]) {
        const bytes = await fsp.readFile(join(copied, 'blobs', 'sha256', digest.slice(7)));
        assert.equal(sha256(bytes), digest);
      }
    }
    for (const [diskType, arch, original] of [
      ['qemu', 'amd64', qcow2],
      ['applehv', 'arm64', raw],
    ] as const) {
      const out = join(dir, `pulled-${diskType}`);
      const pulled = await cli([
        'pull',
        ref,
        '--disk-type',
        diskType,
        '--arch',
        arch,
        '-o',
        out,
        '-q',
        '--cache-dir',
        join(dir, 'cache'),
      ]);
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.ok((await fsp.readFile(out)).equals(await fsp.readFile(original)));
    }
  });

  test('skopeo pushes, ocipull pulls; copy --all to another repository mounts, to a layout keeps digests', async () => {
    const layout = await buildMachineOsLayout(join(dir, 'sk-layout'), {
      tag: '6.0',
      nested: true,
      containerImages: true,
      disks: [{ diskType: 'hyperv', arch: 'x86_64', path: await compress(vhdx, 'xz') }],
    });
    await pushLayout(layout.layoutDir, '6.0', plain.addr, 'podman/skopeo-pushed');
    const src = `docker://${plain.addr}/podman/skopeo-pushed:6.0`;
    const out = join(dir, 'from-skopeo.vhdx');
    const pulled = await cli([
      'pull',
      src,
      '--disk-type',
      'hyperv',
      '--arch',
      'amd64',
      '-o',
      out,
      '-q',
      '--cache-dir',
      join(dir, 'cache'),
    ]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.ok((await fsp.readFile(out)).equals(await fsp.readFile(vhdx)));

    const copy = await cli(['copy', '--all', src, `docker://${plain.addr}/mirror/machine-os:6.0`, '--json']);
    assert.equal(copy.code, 0, copy.stderr);
    const result = JSON.parse(copy.stdout);
    assert.equal(result.digest, layout.indexDigest);
    assert.equal(result.manifests, 3);
    assert.equal(result.blobs.pushed, 0);
    assert.ok(result.blobs.mounted >= 4, JSON.stringify(result.blobs));
    const mirrored = await run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${plain.addr}/mirror/machine-os:6.0`,
    ]);
    assert.equal(sha256(Buffer.from(mirrored)), layout.indexDigest);

    const local = join(dir, 'copied-layout');
    const down = await cli(['copy', '--all', src, `oci-dir:${local}:6.0`, '--json']);
    assert.equal(down.code, 0, down.stderr);
    const raw2 = await run('skopeo', ['inspect', '--raw', `oci:${local}:6.0`]);
    assert.equal(sha256(Buffer.from(raw2)), layout.indexDigest);
    // Again: every blob is there already.
    const again = JSON.parse((await cli(['copy', '--all', src, `oci-dir:${local}:6.0`, '--json'])).stdout);
    assert.equal(again.blobs.pushed, 0);
    // Without --all: the one selected disk manifest, digest preserved, tagged on its own.
    const one = await cli([
      'copy',
      src,
      `docker://${plain.addr}/single:hv`,
      '--disk-type',
      'hyperv',
      '--arch',
      'x86_64',
      '--json',
    ]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(JSON.parse(one.stdout).digest, layout.disks[0]!.manifestDigest);
  });

  test('a blob over the monolithic limit goes up in PATCH chunks and comes back whole', async () => {
    const big = join(dir, 'big.raw');
    await fsp.writeFile(big, prngBytes(40 * 1024 * 1024, 1));
    const ref = `docker://${plain.addr}/big:1`;
    const run1 = await cli([
      'pack',
      ref,
      '--disk',
      `applehv=${big}`,
      '--compress',
      'none',
      '--json',
      '--debug',
    ]);
    assert.equal(run1.code, 0, run1.stderr);
    assert.match(run1.stderr, /chunked upload of sha256:\w+ to [^:]+:\d+\/big: 16777216\/41943040 bytes/);
    assert.match(run1.stderr, /chunked upload of sha256:\w+ to [^:]+:\d+\/big: 41943040\/41943040 bytes/);
    const packed = JSON.parse(run1.stdout) as { disks: { blobSize: number; blobDigest: string }[] };
    assert.equal(packed.disks[0]!.blobSize, 40 * 1024 * 1024);
    const fetched = join(dir, 'big-fetched');
    await run('curl', [
      '-sf',
      '-o',
      fetched,
      `http://${plain.addr}/v2/big/blobs/${packed.disks[0]!.blobDigest}`,
    ]);
    assert.equal(sha256(await fsp.readFile(fetched)), packed.disks[0]!.blobDigest);
  });
});
