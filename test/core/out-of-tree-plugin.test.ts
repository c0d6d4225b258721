import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { runCli } from '../support/cli.js';
import { prngBytes } from '../support/files.js';
import { repoRoot, tempDir } from '../support/paths.js';

// A third-party transport written the way a plugin author would: plain ESM, importing only the
// public API by package name, loaded from a path named in a config file.
const PLUGIN = `
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { digestOf, EMPTY_DESCRIPTOR, MediaTypes, OcipullError } from 'ocipull';

export default class MemoryTransport {
  name = 'ocipull-plugin-memory';
  constructor(options = {}) {
    this.blobFile = new URL(options.blob, import.meta.url);
  }
  apply(orchestrator) {
    const blobs = new Map();
    const put = (bytes, mediaType, extra = {}) => {
      const descriptor = { mediaType, digest: digestOf(bytes), size: bytes.length, ...extra };
      blobs.set(descriptor.digest, bytes);
      return descriptor;
    };
    orchestrator.hooks.resolve.for('mem').tapPromise(this.name, async (request) => {
      if (request.ref.rest !== 'demo') throw new OcipullError('MANIFEST_NOT_FOUND', 'only mem:demo exists');
      const layer = put(readFileSync(this.blobFile), 'application/gzip', {
        annotations: { 'org.opencontainers.image.title': 'podman-machine.x86_64.qemu.qcow2.gz' },
      });
      const manifest = put(
        Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: EMPTY_DESCRIPTOR, layers: [layer] })),
        MediaTypes.ociManifest,
      );
      const entry = { ...manifest, platform: { os: 'linux', architecture: 'x86_64' }, annotations: { disktype: 'qemu' } };
      const index = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [entry] })), MediaTypes.ociIndex);
      return { scheme: 'mem', reference: 'mem:demo', root: index };
    });
    orchestrator.hooks.fetch.for('mem').tapPromise(this.name, async ({ descriptor, offset }) => ({
      body: Readable.from([blobs.get(descriptor.digest).subarray(offset)]),
      offset,
    }));
  }
}
`;

let dir: string;
let cleanup: () => Promise<void>;
let disk: Buffer;
before(async () => {
  ({ dir, cleanup } = await tempDir('ocipull-oot-'));
  await mkdir(join(dir, 'node_modules'), { recursive: true });
  await symlink(repoRoot, join(dir, 'node_modules', 'ocipull'), 'dir');
  // Titled qcow2, so it starts as one: the puller checks the disk's magic against its title.
  disk = Buffer.concat([
    Buffer.from('QFI\xfb', 'latin1'),
    prngBytes(100_000, 1),
    Buffer.alloc(64 * 1024),
    prngBytes(5000, 2),
  ]);
  await writeFile(join(dir, 'disk.qcow2.gz'), gzipSync(disk));
  await writeFile(join(dir, 'memory-transport.mjs'), PLUGIN);
  await writeFile(
    join(dir, '.ocipullrc.json'),
    JSON.stringify({ preset: 'qemu', plugins: [['./memory-transport.mjs', { blob: './disk.qcow2.gz' }]] }),
  );
});
after(() => cleanup());

describe('an out-of-tree plugin named by path in a config file', () => {
  it('adds a transport scheme and a pull through it succeeds', async () => {
    const result = await runCli(
      ['pull', 'mem:demo', '--arch', 'amd64', '-o', 'out.qcow2', '--json', '--cache-dir', join(dir, 'cache')],
      {
        cwd: dir,
      },
    );
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.equal(report.source, 'mem:demo');
    assert.equal(report.diskType, 'qemu');
    assert.deepEqual(report.platform, { os: 'linux', architecture: 'x86_64' });
    assert.equal(report.output, join(dir, 'out.qcow2'));
    assert.deepEqual(await readFile(join(dir, 'out.qcow2')), disk);
  });

  it('shows up in the resolved plugin list, after the preset plugins', async () => {
    const result = await runCli(['config', '--json'], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { plugins: { name: string }[]; transports: string[] };
    assert.equal(report.plugins.at(-1)?.name, 'ocipull-plugin-memory');
    assert.ok(report.transports.includes('mem'));
  });

  it('a plugin that is not installed fails with the package to install', async () => {
    const result = await runCli(['config', '--config', join(dir, 'missing.json')], { cwd: dir });
    assert.notEqual(result.code, 0);
    await writeFile(join(dir, 'missing.json'), JSON.stringify({ preset: 'qemu', plugins: ['s3'] }));
    const missing = await runCli(['pull', 's3://bucket/disk', '--config', join(dir, 'missing.json')], {
      cwd: dir,
    });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /PLUGIN_NOT_FOUND/);
    assert.match(missing.stderr, /npm install ocipull-plugin-s3/);
  });

  it('a scheme nobody handles says which plugin would', async () => {
    const result = await runCli(['pull', 's3://bucket/disk', '--preset', 'qemu'], { cwd: dir });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /NO_TRANSPORT/);
    assert.match(result.stderr, /ocipull-plugin-s3/);
  });
});
