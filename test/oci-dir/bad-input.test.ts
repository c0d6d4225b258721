import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ErrorCode, type ImageManifest, LayoutStore, MediaTypes, type OcipullError } from 'ocipull';
import { compress, makeDisk } from '../support/disks.js';
import { buildMachineOsLayout, type MachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';
import { pullOrchestrator, strayFiles } from './helpers.js';

interface Fixture {
  dir: string;
  layout: MachineOsLayout;
  blob(digest: string): string;
}

interface BadCase {
  name: string;
  /** Damage a fresh copy of a good flat layout (one qemu x86_64 disk, tagged `latest`). */
  damage?(f: Fixture): Promise<void>;
  /** The reference's suffix after `oci-dir:<layout>` (default `:latest`). */
  ref?: string;
  code: ErrorCode;
  message: RegExp;
}

/** Rewrite the disk manifest (and index.json, which lists it) after `edit`. */
async function editManifest(f: Fixture, edit: (m: ImageManifest) => void): Promise<void> {
  const store = await LayoutStore.open(f.dir);
  const disk = f.layout.disks[0]!;
  const manifest = JSON.parse((await store.readBlob(disk.manifestDigest)).toString()) as ImageManifest;
  edit(manifest);
  const descriptor = await store.putJson(manifest, MediaTypes.ociManifest);
  await store.updateIndex((index) => {
    index.manifests = index.manifests.map((m) =>
      m.digest === disk.manifestDigest ? { ...m, ...descriptor } : m,
    );
    return index;
  });
}

async function editIndexJson(f: Fixture, edit: (text: string) => string): Promise<void> {
  const path = join(f.dir, 'index.json');
  await fsp.writeFile(path, edit(await fsp.readFile(path, 'utf8')));
}

const CASES: BadCase[] = [
  {
    name: 'the directory does not exist',
    ref: '-nowhere:latest',
    code: 'LAYOUT_MISSING',
    message: /^layout directory \S+-nowhere does not exist$/,
  },
  {
    name: 'no oci-layout file',
    damage: (f) => fsp.rm(join(f.dir, 'oci-layout')),
    code: 'LAYOUT_MISSING',
    message: /is not an OCI image layout/,
  },
  {
    name: 'unknown layout version',
    damage: (f) => fsp.writeFile(join(f.dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}'),
    code: 'LAYOUT_VERSION_UNSUPPORTED',
    message: /imageLayoutVersion "2\.0\.0"/,
  },
  {
    name: 'oci-layout is not JSON',
    damage: (f) => fsp.writeFile(join(f.dir, 'oci-layout'), 'imageLayoutVersion=1.0.0'),
    code: 'LAYOUT_VERSION_UNSUPPORTED',
    message: /imageLayoutVersion null/,
  },
  {
    name: 'index.json is not JSON',
    damage: (f) => editIndexJson(f, (t) => t.slice(0, -7)),
    code: 'LAYOUT_INDEX_INVALID',
    message: /index\.json is not JSON/,
  },
  {
    name: 'index.json is missing',
    damage: (f) => fsp.rm(join(f.dir, 'index.json')),
    code: 'LAYOUT_INDEX_INVALID',
    message: /index\.json is missing/,
  },
  {
    name: 'index.json has the wrong schemaVersion',
    damage: (f) => editIndexJson(f, (t) => t.replace('"schemaVersion":2', '"schemaVersion":1')),
    code: 'LAYOUT_INDEX_INVALID',
    message: /schemaVersion 1, not 2/,
  },
  {
    name: 'index.json has no manifests array',
    damage: (f) => editIndexJson(f, (t) => t.replace('"manifests":', '"entries":')),
    code: 'LAYOUT_INDEX_INVALID',
    message: /no manifests array/,
  },
  {
    name: 'an index.json entry has a malformed digest',
    damage: (f) => editIndexJson(f, (t) => t.replace(/"sha256:[0-9a-f]{64}"/, '"sha256:../../etc/passwd"')),
    code: 'LAYOUT_INDEX_INVALID',
    message: /invalid entry/,
  },
  { name: 'a path-like tag', ref: ':../x', code: 'TAG_INVALID', message: /"\.\.\/x" is not a valid tag/ },
  { name: 'a tag with a slash', ref: ':a/b', code: 'TAG_INVALID', message: /"a\/b" is not a valid tag/ },
  { name: 'a tag that does not exist', ref: ':5.6', code: 'TAG_NOT_FOUND', message: /no tag "5\.6"/ },
  {
    name: 'a digest the layout does not hold',
    ref: `@sha256:${'0'.repeat(64)}`,
    code: 'MANIFEST_NOT_FOUND',
    message: /has no manifest sha256:0000/,
  },
  {
    name: 'the disk blob is missing',
    damage: (f) => fsp.rm(f.blob(f.layout.disks[0]!.blobDigest)),
    code: 'BLOB_NOT_FOUND',
    message: /has no blob sha256:/,
  },
  {
    name: 'the manifest blob is missing',
    damage: (f) => fsp.rm(f.blob(f.layout.disks[0]!.manifestDigest)),
    code: 'BLOB_NOT_FOUND',
    message: /has no blob sha256:/,
  },
  {
    name: "the disk blob's bytes do not match its digest",
    damage: async (f) => {
      const path = f.blob(f.layout.disks[0]!.blobDigest);
      const bytes = await fsp.readFile(path);
      bytes[bytes.length - 100] = (bytes[bytes.length - 100]! + 1) & 0xff;
      await fsp.writeFile(path, bytes);
    },
    code: 'DIGEST_MISMATCH',
    message: /hashes to sha256:/,
  },
  {
    name: "the manifest's bytes do not match its digest",
    damage: async (f) => {
      const path = f.blob(f.layout.disks[0]!.manifestDigest);
      await fsp.writeFile(
        path,
        (await fsp.readFile(path, 'utf8')).replace('"schemaVersion":2', '"schemaVersion":3'),
      );
    },
    code: 'DIGEST_MISMATCH',
    message: /hashes to sha256:/,
  },
  {
    name: 'the disk blob file is shorter than its descriptor',
    damage: async (f) => {
      const path = f.blob(f.layout.disks[0]!.blobDigest);
      await fsp.truncate(path, (await fsp.stat(path)).size - 1);
    },
    code: 'SIZE_MISMATCH',
    message: /is \d+ bytes, but its descriptor says/,
  },
  {
    name: 'the layer descriptor claims one byte more than the blob has',
    damage: (f) =>
      editManifest(f, (m) => {
        m.layers[0]!.size += 1;
      }),
    code: 'SIZE_MISMATCH',
    message: /its descriptor says/,
  },
  {
    name: 'the layer descriptor claims one byte less than the blob has',
    damage: (f) =>
      editManifest(f, (m) => {
        m.layers[0]!.size -= 1;
      }),
    code: 'SIZE_MISMATCH',
    message: /its descriptor says/,
  },
  {
    name: 'the index entry claims the wrong manifest size',
    damage: (f) => editIndexJson(f, (t) => t.replace(/"size":(\d+)/, (_m, n) => `"size":${Number(n) + 5}`)),
    code: 'SIZE_MISMATCH',
    message: /its descriptor says|bytes/,
  },
];

describe('bad OCI layouts: each gives its own error and leaves nothing at the output path', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let good: MachineOsLayout;
  let original: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    original = await makeDisk(dir, { format: 'qcow2', sizeMiB: 8, dataMiB: 1, seed: 1 });
    const disk = await compress(original, 'zstd');
    good = await buildMachineOsLayout(join(dir, 'good'), {
      tag: 'latest',
      disks: [{ diskType: 'qemu', arch: 'x86_64', path: disk }],
    });
  });
  after(() => cleanup());

  test('the undamaged fixture pulls', async () => {
    const out = join(dir, 'good.qcow2');
    const o = await pullOrchestrator({ diskType: 'qemu', arch: 'x86_64', format: 'qcow2' });
    await o.pull({ source: `oci-dir:${good.layoutDir}:latest`, output: out });
    assert.deepEqual(await fsp.readFile(out), await fsp.readFile(original), 'the disk, byte for byte');
  });

  for (const [i, c] of CASES.entries()) {
    test(`${c.name} → ${c.code}`, async () => {
      const layoutDir = join(dir, `case-${i}`);
      await fsp.cp(good.layoutDir, layoutDir, { recursive: true });
      const fixture: Fixture = {
        dir: layoutDir,
        layout: good,
        blob: (digest) => join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length)),
      };
      await c.damage?.(fixture);
      const out = join(dir, `out-${i}`);
      await fsp.mkdir(out);
      const o = await pullOrchestrator({ diskType: 'qemu', arch: 'x86_64', format: 'qcow2' });
      const source = `oci-dir:${layoutDir}${c.ref ?? ':latest'}`;
      await assert.rejects(o.pull({ source, output: join(out, 'disk.qcow2') }), (error: OcipullError) => {
        assert.equal(error.code, c.code, `${error.code}: ${error.message}`);
        assert.match(error.message, c.message);
        return true;
      });
      assert.deepEqual(await strayFiles(out), [], 'nothing is left in the output directory');
    });
  }
});
