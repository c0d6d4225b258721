/**
 * Hostile OCI layouts, pulled end to end: layout files that are FIFOs, character devices,
 * directories or symlinks leading out of the layout, oversized markers. Each is refused with its
 * code, promptly (no open() blocks on a FIFO, no read runs on past a file's size) and nothing
 * appears at (or beside) the output path. Device nodes are made with mknod inside the temp dir.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  Annotations,
  type Descriptor,
  EMPTY_DESCRIPTOR,
  type ErrorCode,
  LayoutStore,
  MediaTypes,
  runCopy,
  type Settings,
} from 'ocipull';
import { FakeRegistry } from '../support/fake-registry.js';
import { prngBytes } from '../support/files.js';
import { tempDir } from '../support/paths.js';
import { ran } from './figures.js';
import {
  type DiskLayout,
  type DiskLayoutOptions,
  diskLayout,
  orchestratorWith,
  REGISTRY_PLUGINS,
  rejectsWith,
  snapshot,
} from './support.js';

const smallDisk = () => execFileSync('zstd', ['-q', '-c'], { input: prngBytes(64 << 10, 1) });
const blobPath = (dir: string, digest: string) =>
  join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));

/** Replace `path` with a FIFO (made here, inside the test's temp dir). */
async function fifoAt(path: string): Promise<void> {
  await fsp.rm(path, { recursive: true, force: true });
  execFileSync('mkfifo', [path]);
}

/** Replace `path` with a character device 1:5 (zeros without end), made inside the temp dir. */
async function zeroDeviceAt(path: string): Promise<void> {
  await fsp.rm(path, { recursive: true, force: true });
  execFileSync('mknod', [path, 'c', '1', '5']);
}

describe('hostile layout files are refused, promptly and in bounded memory', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let n = 0;
  let tally = 0;
  const take = () => {
    const t = tally;
    tally = 0;
    return t;
  };

  before(async () => {
    tmp = await tempDir('ocipull-hostile-layout-');
  });
  after(async () => tmp.cleanup());

  /** Build a good layout in a fresh sandbox, damage it, pull, expect `code`; nothing is written. */
  async function refused(
    damage: (built: DiskLayout, sandbox: string) => Promise<unknown>,
    code: ErrorCode,
    settings: Partial<Settings> = {},
    options: Partial<DiskLayoutOptions> = {},
  ): Promise<string> {
    const sandbox = join(tmp.dir, `case-${++n}`);
    await fsp.mkdir(join(sandbox, 'out'), { recursive: true });
    const built = await diskLayout(join(sandbox, 'layout'), { layer: smallDisk(), ...options });
    const named = await damage(built, sandbox);
    const source = typeof named === 'string' ? named : built.source;
    const beforeTree = await snapshot(sandbox, ['layout']);
    const orchestrator = await orchestratorWith({ cacheDir: join(sandbox, 'cache'), ...settings });
    const error = await rejectsWith(
      orchestrator.pull({ source, output: join(sandbox, 'out', 'disk.qcow2') }),
      code,
    );
    assert.deepEqual(await snapshot(sandbox, ['layout']), beforeTree, 'nothing written in the sandbox');
    tally++;
    return error.message;
  }

  it('layout.fifo: index.json, oci-layout, the manifest, the disk blob and a blob named by @digest as FIFOs', async () => {
    let message = await refused(async (b) => fifoAt(join(b.dir, 'index.json')), 'LAYOUT_FILE_INVALID');
    assert.match(message, /index\.json is a FIFO \(named pipe\); a regular file was expected/);
    message = await refused(async (b) => fifoAt(join(b.dir, 'oci-layout')), 'LAYOUT_FILE_INVALID');
    assert.match(message, /oci-layout is a FIFO/);
    message = await refused(async (b) => fifoAt(blobPath(b.dir, b.manifest.digest)), 'LAYOUT_FILE_INVALID');
    assert.match(message, /blobs\/sha256\/[0-9a-f]{64} is a FIFO/);
    await refused(async (b) => fifoAt(blobPath(b.dir, b.layer.digest)), 'LAYOUT_FILE_INVALID');
    await refused(async (b) => {
      await fifoAt(blobPath(b.dir, b.manifest.digest));
      await fsp.writeFile(join(b.dir, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
      return `oci-dir:${b.dir}@${b.manifest.digest}`;
    }, 'LAYOUT_FILE_INVALID');
    // The store (the push side of oci-dir) opens layouts the same way.
    const dir = join(tmp.dir, 'store-fifo');
    await LayoutStore.init(dir);
    await fifoAt(join(dir, 'index.json'));
    await rejectsWith(LayoutStore.open(dir), 'LAYOUT_FILE_INVALID');
    tally++;
    ran('layout.fifo', { refused: take() });
  });

  it('layout.char-device: index.json a symlink to a zero device, the disk and manifest blobs zero devices', async () => {
    let message = await refused(async (b, sandbox) => {
      await zeroDeviceAt(join(sandbox, 'zero'));
      await fsp.rm(join(b.dir, 'index.json'));
      await fsp.symlink(join(sandbox, 'zero'), join(b.dir, 'index.json'));
      return undefined;
    }, 'LAYOUT_FILE_INVALID');
    assert.match(message, /index\.json is a character device; a regular file was expected/);
    message = await refused(
      async (b) => zeroDeviceAt(blobPath(b.dir, b.layer.digest)),
      'LAYOUT_FILE_INVALID',
    );
    assert.match(message, /is a character device/);
    await refused(async (b) => zeroDeviceAt(blobPath(b.dir, b.manifest.digest)), 'LAYOUT_FILE_INVALID');
    ran('layout.char-device', { refused: take() });
  });

  it('layout.directory-blob: the disk blob and the manifest blob are directories', async () => {
    for (const which of ['layer', 'manifest'] as const) {
      let path = '';
      const message = await refused(async (b) => {
        path = blobPath(b.dir, b[which].digest);
        await fsp.rm(path);
        await fsp.mkdir(path);
        return undefined;
      }, 'LAYOUT_FILE_INVALID');
      assert.ok(message.includes(`${path} is a directory; a regular file was expected`), message);
    }
    ran('layout.directory-blob', { refused: take() });
  });

  it('layout.symlink-out: index.json and the disk blob are symlinks to valid copies outside the layout', async () => {
    const message = await refused(async (b, sandbox) => {
      await fsp.rename(join(b.dir, 'index.json'), join(sandbox, 'index.json'));
      await fsp.symlink(join(sandbox, 'index.json'), join(b.dir, 'index.json'));
      return undefined;
    }, 'LAYOUT_FILE_INVALID');
    assert.match(message, /leads out of the layout/);
    await refused(async (b, sandbox) => {
      const path = blobPath(b.dir, b.layer.digest);
      await fsp.rename(path, join(sandbox, 'disk'));
      await fsp.symlink(join(sandbox, 'disk'), path);
      return undefined;
    }, 'LAYOUT_FILE_INVALID');
    ran('layout.symlink-out', { refused: take() });
  });

  it('layout.huge-marker: a 1 MiB oci-layout file is refused before it is read', async () => {
    const message = await refused(async (b) => {
      await fsp.writeFile(
        join(b.dir, 'oci-layout'),
        JSON.stringify({ imageLayoutVersion: '1.0.0', padding: 'x'.repeat(1 << 20) }),
      );
      return undefined;
    }, 'LAYOUT_VERSION_UNSUPPORTED');
    assert.match(message, /oci-layout is \d+ bytes; an oci-layout file is a small JSON object/);
    ran('layout.huge-marker', { refused: take() });
  });

  /** Descriptor fields of the wrong type or content, in the manifest's layer or in index.json. */
  const layerCases: [string, (d: Descriptor) => unknown, RegExp][] = [
    [
      'data object',
      (d) => ({ ...d, data: { length: 1_500_000_000 } }),
      /has data \{"length":1500000000\}, not a base64 string/,
    ],
    ['data number', (d) => ({ ...d, data: 12345 }), /has data 12345, not a base64 string/],
    ['data not base64', (d) => ({ ...d, data: '!!!!' }), /not the base64 of/],
    ['data too short', (d) => ({ ...d, data: 'AAAA' }), /has data of 3 bytes, but size/],
    ['data of another digest', (d) => ({ ...d, size: 3, data: 'AAAA' }), /has data that hashes to sha256:/],
    ['urls a string', (d) => ({ ...d, urls: 'http://127.0.0.1/x' }), /urls that are not an array of strings/],
    ['artifactType a number', (d) => ({ ...d, artifactType: 7 }), /artifactType 7, not a string/],
    [
      'an annotation a number',
      (d) => ({ ...d, annotations: { a: 1 } }),
      /annotation "a" of .* is not a string/,
    ],
    ['platform a string', (d) => ({ ...d, platform: 'linux/amd64' }), /platform that is not an object/],
    [
      'platform variant a number',
      (d) => ({ ...d, platform: { os: 'linux', architecture: 'arm64', variant: 8 } }),
      /platform variant 8, not a string/,
    ],
  ];
  it('doc.descriptor-fields: every descriptor field of the wrong type, in a manifest and in index.json', async () => {
    for (const [what, edit, message] of layerCases) {
      const text = await refused(
        async () => undefined,
        'MANIFEST_INVALID',
        {},
        {
          layerDescriptor: (d) => edit(d) as Descriptor,
        },
      );
      assert.match(text, message, what);
    }
    const text = await refused(
      async () => undefined,
      'LAYOUT_INDEX_INVALID',
      {},
      {
        manifestDescriptor: (d) =>
          ({
            ...d,
            platform: { os: 'linux', architecture: 'amd64', 'os.features': 'x' },
          }) as unknown as Descriptor,
      },
    );
    assert.match(text, /platform os\.features that is not an array of strings/);
    ran('doc.descriptor-fields', { refused: take() });
  });

  it('doc.descriptor-registry: the same manifest served by a registry (data object, data number)', async () => {
    for (const [, edit, message] of layerCases.slice(0, 2)) {
      const sandbox = join(tmp.dir, `case-${++n}`);
      await fsp.mkdir(join(sandbox, 'out'), { recursive: true });
      const built = await diskLayout(join(sandbox, 'layout'), {
        layer: smallDisk(),
        tag: '5.5',
        layerDescriptor: (d) => edit(d) as Descriptor,
      });
      const fake = await FakeRegistry.start({ layoutDir: built.dir });
      try {
        const orchestrator = await orchestratorWith({ cacheDir: join(sandbox, 'cache') }, REGISTRY_PLUGINS);
        const error = await rejectsWith(
          orchestrator.pull({
            source: `docker://${fake.addr}/podman/machine-os:5.5`,
            output: join(sandbox, 'out', 'disk.qcow2'),
          }),
          'MANIFEST_INVALID',
        );
        assert.match(error.message, message);
        assert.deepEqual(await fsp.readdir(join(sandbox, 'out')), []);
        tally++;
      } finally {
        await fake.stop();
      }
    }
    ran('doc.descriptor-registry', { refused: take() });
  });

  /** Root lists index X `fan` times, X lists index Y `fan` times, Y: `fan - 1` container entries and the disk. */
  async function fanOut(built: DiskLayout, fan: number): Promise<void> {
    const store = await LayoutStore.open(built.dir);
    const containers: Descriptor[] = [];
    for (let i = 0; i < fan - 1; i++) {
      const image = {
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: EMPTY_DESCRIPTOR,
        layers: [],
      };
      containers.push(
        await store.putJson({ ...image, annotations: { n: String(i) } }, MediaTypes.ociManifest),
      );
    }
    const y = await store.putJson(
      { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [...containers, built.manifest] },
      MediaTypes.ociIndex,
    );
    const x = await store.putJson(
      { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: Array(fan).fill(y) },
      MediaTypes.ociIndex,
    );
    const entries = Array(fan).fill({ ...x, annotations: { [Annotations.refName]: 'latest' } });
    await store.setIndex({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: entries });
  }

  it('doc.fan-out: 300 × 300 × 300 nested entries are walked once each; 10001 entries are INDEX_TOO_LARGE', async () => {
    // Asked for a disk it does not hold, the walk goes through every index: once each.
    const message = await refused((b) => fanOut(b, 300), 'NO_MATCHING_DISK', { arch: 'aarch64' });
    assert.match(message, /offers: qemu linux\/x86_64$/);
    // copy --all copies each document once.
    const sandbox = join(tmp.dir, `case-${++n}`);
    const built = await diskLayout(join(sandbox, 'layout'), { layer: smallDisk() });
    await fanOut(built, 300);
    const orchestrator = await orchestratorWith({ cacheDir: join(sandbox, 'cache') });
    const copied = await runCopy(orchestrator, {
      source: built.source,
      destination: `oci-dir:${join(sandbox, 'copy')}:latest`,
      all: true,
    });
    assert.equal(copied.manifests, 300, 'the disk and the 299 container manifests, once each');
    assert.equal(copied.blobs.pushed, 2, 'the disk and the empty config');
    // 10001 entries (the disk, listed again and again) in index.json: over the limit, named.
    const tooMany = await refused(
      async (b) => {
        const store = await LayoutStore.open(b.dir);
        const entries = Array(10_001).fill(b.manifest);
        await store.setIndex({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: entries });
      },
      'INDEX_TOO_LARGE',
      { arch: 'aarch64' },
    );
    assert.match(tooMany, /more than 10000 entries \(the disk-select limit maxEntries\)/);
    await rejectsWith(
      runCopy(orchestrator, {
        source: `oci-dir:${join(tmp.dir, `case-${n}`, 'layout')}:latest`,
        destination: `oci-dir:${join(sandbox, 'copy-too-many')}:latest`,
        all: true,
      }),
      'INDEX_TOO_LARGE',
    );
    tally++;
    ran('doc.fan-out', { refused: take() });
  });
});
