/**
 * Fixtures ocipull did not write: images built with umoci (a layer from `umoci insert`, and a
 * GNU-tar archive added with `umoci raw add-layer`), and a layout written by a small independent
 * script (fs + node:crypto) copied by skopeo into the real registry and into another layout.
 * Every expectation is a node:crypto digest of the original disk or of what the tools wrote.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { compress, makeDisk, run } from '../support/disks.js';
import { registryManifest, sha256Digest, sha256DigestOfFile } from '../support/independent.js';
import { writeIndependentLayout } from '../support/independent-layout.js';
import { tempDir } from '../support/paths.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

describe('images written by umoci, skopeo and an independent script', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let registry: TestRegistry;
  let qcow2: string;
  let raw: string;
  let n = 0;

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-other-tools-'));
    registry = await startRegistry(join(dir, 'registry'));
    qcow2 = await makeDisk(dir, { format: 'qcow2', sizeMiB: 16, dataMiB: 1, seed: 141 });
    raw = await makeDisk(dir, { format: 'raw', sizeMiB: 4, dataMiB: 1, seed: 142 });
  });
  after(async () => {
    await registry?.stop();
    await cleanup();
  });

  async function pull(source: string, args: string[]) {
    const out = join(dir, `out-${n++}`);
    const result = await runCli([
      'pull',
      source,
      ...args,
      '-o',
      out,
      '--cache-dir',
      join(dir, `cache-${n}`),
      '--tls-verify=false',
      '--json',
    ]);
    assert.equal(result.code, 0, result.stderr);
    return { out, report: JSON.parse(result.stdout) as { manifestDigest: string; blobDigest: string } };
  }

  /** The manifest and first layer a umoci layout's tag points at, read with fs + node:crypto. */
  async function umociImage(layout: string, tag: string) {
    const top = JSON.parse(await fsp.readFile(join(layout, 'index.json'), 'utf8'));
    const entry = top.manifests.find(
      (m: { annotations?: Record<string, string> }) =>
        m.annotations?.['org.opencontainers.image.ref.name'] === tag,
    );
    const bytes = await fsp.readFile(join(layout, 'blobs', 'sha256', entry.digest.slice(7)));
    assert.equal(sha256Digest(bytes), entry.digest);
    const layers = JSON.parse(bytes.toString('utf8')).layers as { mediaType: string; digest: string }[];
    return { manifestDigest: entry.digest as string, layers };
  }

  test('umoci new + umoci insert: the disk file in a gzip tar layer, untitled, pulled with --allow-missing-title', async () => {
    const layout = join(dir, 'umoci-insert');
    await run('umoci', ['init', '--layout', layout]);
    await run('umoci', ['new', '--image', `${layout}:disk`]);
    await run('umoci', ['insert', '--image', `${layout}:disk`, qcow2, '/disk.qcow2']);
    const image = await umociImage(layout, 'disk');
    assert.deepEqual(
      image.layers.map((l) => l.mediaType),
      ['application/vnd.oci.image.layer.v1.tar+gzip'],
    );
    const { out, report } = await pull(`oci-dir:${layout}:disk`, [
      '--disk-type',
      'qemu',
      '--arch',
      'amd64',
      '--allow-missing-title',
    ]);
    assert.equal(await sha256DigestOfFile(out), await sha256DigestOfFile(qcow2));
    assert.equal(report.manifestDigest, image.manifestDigest);
    assert.equal(report.blobDigest, image.layers[0]!.digest);
  });

  test('GNU tar + umoci raw add-layer: a tar archive umoci compressed itself is pulled byte for byte', async () => {
    const layout = join(dir, 'umoci-raw');
    const staging = join(dir, 'raw-staging');
    await fsp.mkdir(staging);
    await fsp.copyFile(raw, join(staging, 'disk.raw'));
    const layer = join(dir, 'layer.tar');
    await run('tar', ['--format=posix', '-C', staging, '-cf', layer, 'disk.raw']);
    await run('umoci', ['init', '--layout', layout]);
    await run('umoci', ['new', '--image', `${layout}:os`]);
    await run('umoci', ['raw', 'add-layer', '--image', `${layout}:os`, layer]);
    const image = await umociImage(layout, 'os');
    assert.equal(image.layers.length, 1);
    // The applehv preset: its disks are raw (the default qemu preset would expect qcow2).
    const { out, report } = await pull(`oci:${layout}:os`, [
      '--preset',
      'applehv',
      '--arch',
      'x86_64',
      '--allow-missing-title',
    ]);
    assert.equal(await sha256DigestOfFile(out), await sha256DigestOfFile(raw));
    assert.equal(report.blobDigest, image.layers[0]!.digest);
  });

  test('a layout written by an independent script, skopeo-copied to the real registry and to another layout, pulls from both', async () => {
    const zst = await compress(qcow2, 'zstd');
    const xz = await compress(raw, 'xz');
    const layout = await writeIndependentLayout(join(dir, 'independent'), '7.0', [
      {
        diskType: 'qemu',
        arch: 'x86_64',
        bytes: await fsp.readFile(zst),
        mediaType: 'application/zstd',
        title: 'disk.x86_64.qcow2.zst',
      },
      {
        diskType: 'applehv',
        arch: 'aarch64',
        bytes: await fsp.readFile(xz),
        mediaType: 'application/x-xz',
        title: 'disk.aarch64.raw.xz',
      },
    ]);
    // skopeo reads what the script wrote, and so does ocipull, straight from the layout.
    const rawIndex = await run('skopeo', ['inspect', '--raw', `oci:${layout.layoutDir}:7.0`]);
    assert.equal(sha256Digest(rawIndex), layout.indexDigest);
    const direct = await pull(`oci-dir:${layout.layoutDir}:7.0`, ['--preset', 'qemu', '--arch', 'x86_64']);
    assert.equal(await sha256DigestOfFile(direct.out), await sha256DigestOfFile(qcow2));

    const ref = `docker://${registry.addr}/independent/os:7.0`;
    await run('skopeo', [
      '--insecure-policy',
      'copy',
      '--all',
      '--preserve-digests',
      '--dest-tls-verify=false',
      `oci:${layout.layoutDir}:7.0`,
      ref,
    ]);
    const served = await registryManifest(`http://${registry.addr}`, 'independent/os', '7.0');
    assert.equal(served.digest, layout.indexDigest);
    const fromRegistry = await pull(ref, ['--preset', 'applehv', '--arch', 'aarch64']);
    assert.equal(await sha256DigestOfFile(fromRegistry.out), await sha256DigestOfFile(raw));
    assert.equal(fromRegistry.report.manifestDigest, layout.disks[1]!.manifestDigest);
    assert.equal(fromRegistry.report.blobDigest, layout.disks[1]!.blobDigest);

    const copy = join(dir, 'skopeo-from-registry');
    await run('skopeo', [
      '--insecure-policy',
      'copy',
      '--all',
      '--src-tls-verify=false',
      ref,
      `oci:${copy}:7.0`,
    ]);
    const fromCopy = await pull(`oci-dir:${copy}:7.0`, ['--preset', 'qemu', '--arch', 'amd64']);
    assert.equal(await sha256DigestOfFile(fromCopy.out), await sha256DigestOfFile(qcow2));
    assert.equal(fromCopy.report.blobDigest, layout.disks[0]!.blobDigest);
  });
});
