import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  Annotations,
  createLogger,
  digestOf,
  EMPTY_DESCRIPTOR,
  LayoutStore,
  type LoadedDocument,
  MediaTypes,
  type OcipullError,
  Orchestrator,
  readAll,
  type Source,
} from 'ocipull';
import OciDirPlugin from '../../plugins/oci-dir/index.js';
import { compress, makeDisk } from '../support/disks.js';
import { buildMachineOsLayout, type MachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';

function orchestrator(): Orchestrator {
  return new Orchestrator({ log: createLogger('silent') }).use(new OciDirPlugin());
}

async function fetchAll(
  o: Orchestrator,
  source: Source,
  digest: string,
  size: number,
  offset = 0,
): Promise<Buffer> {
  const response = await o.fetchRaw(source, { mediaType: 'application/octet-stream', digest, size }, offset);
  assert.equal(response.offset, offset);
  return readAll(response.body, 1 << 30, digest);
}

function entryDigests(doc: LoadedDocument): string[] {
  assert.equal(doc.kind, 'index');
  return doc.kind === 'index' ? doc.index.manifests.map((m) => m.digest) : [];
}

describe('oci-dir transport', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let qcow2: string;
  let nested: MachineOsLayout;
  let flat: MachineOsLayout;

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    qcow2 = await compress(await makeDisk(dir, { format: 'qcow2', sizeMiB: 16, dataMiB: 1 }), 'zstd');
    const raw = await compress(
      await makeDisk(dir, { format: 'raw', sizeMiB: 16, dataMiB: 1, seed: 2 }),
      'xz',
    );
    const disks = [
      { diskType: 'qemu', arch: 'x86_64' as const, path: qcow2 },
      { diskType: 'applehv', arch: 'aarch64' as const, path: raw },
    ];
    nested = await buildMachineOsLayout(join(dir, 'nested'), {
      tag: '5.5',
      nested: true,
      containerImages: true,
      disks,
    });
    flat = await buildMachineOsLayout(join(dir, 'flat'), { disks });
  });
  after(() => cleanup());

  test('every spelling of a tagged nested layout resolves to the machine-os index', async () => {
    const o = orchestrator();
    const rel = relative(process.cwd(), nested.layoutDir);
    for (const raw of [
      `oci-dir:${nested.layoutDir}:5.5`,
      `oci-dir://${nested.layoutDir}:5.5`,
      `oci:${nested.layoutDir}:5.5`,
      `oci-dir:${rel}:5.5`,
      `oci-dir:${nested.layoutDir}`,
      `oci-dir:${nested.layoutDir}@${nested.indexDigest}`,
    ]) {
      const source = await o.openSource(raw);
      assert.equal(source.root?.digest, nested.indexDigest, raw);
      assert.ok(source.reference.startsWith(`${source.scheme}:${nested.layoutDir}`), source.reference);
      const root = await o.load(source, source.root!);
      assert.equal(entryDigests(root).length, 4);
      assert.deepEqual(await source.listTags?.(), ['5.5']);
    }
    const source = await o.openSource(`oci:${nested.layoutDir}:5.5`);
    assert.equal(source.reference, `oci:${nested.layoutDir}:5.5`, 'the reference round-trips');
    assert.equal((await o.openSource(source.reference)).root?.digest, nested.indexDigest);
  });

  test('a flat layout (index.json is the machine-os index) resolves to index.json itself', async () => {
    const o = orchestrator();
    const source = await o.openSource(`oci-dir:${flat.layoutDir}`);
    assert.equal(source.root?.digest, flat.indexDigest);
    const root = await o.load(source, source.root!);
    assert.deepEqual(
      entryDigests(root),
      flat.disks.map((d) => d.manifestDigest),
    );
    // A digest listed in index.json names that manifest, with the entry's annotations.
    const qemu = flat.disks[0]!;
    const bySha = await o.openSource(`oci-dir:${flat.layoutDir}@${qemu.manifestDigest}`);
    assert.equal(bySha.root?.annotations?.[Annotations.diskType], 'qemu');
    const manifest = await o.load(bySha, bySha.root!);
    assert.equal(manifest.kind, 'manifest');
  });

  test('nested indexes are followed through load(), blobs are read whole and from an offset', async () => {
    const o = orchestrator();
    const source = await o.openSource(`oci-dir:${nested.layoutDir}:5.5`);
    const root = await o.load(source, source.root!);
    const qemu = nested.disks.find((d) => d.diskType === 'qemu')!;
    assert.ok(entryDigests(root).includes(qemu.manifestDigest));
    const manifest = await o.load(source, qemu.descriptor);
    assert.equal(manifest.kind, 'manifest');
    const layer = manifest.kind === 'manifest' ? manifest.manifest.layers[0]! : undefined;
    assert.equal(layer?.digest, qemu.blobDigest);
    assert.equal(layer?.annotations?.[Annotations.title], 'podman-machine.x86_64.qemu.qcow2.zst');
    const file = await fsp.readFile(qcow2);
    assert.deepEqual(await fetchAll(o, source, qemu.blobDigest, qemu.blobSize), file);
    const offset = Math.floor(file.length / 3);
    assert.deepEqual(
      await fetchAll(o, source, qemu.blobDigest, qemu.blobSize, offset),
      file.subarray(offset),
    );
  });

  test('aborting the signal stops a blob stream', async () => {
    const o = orchestrator();
    const source = await o.openSource(`oci-dir:${nested.layoutDir}:5.5`);
    const qemu = nested.disks.find((d) => d.diskType === 'qemu')!;
    const controller = new AbortController();
    const response = await o.fetchRaw(
      source,
      { mediaType: 'application/zstd', digest: qemu.blobDigest, size: qemu.blobSize },
      0,
      controller.signal,
    );
    controller.abort();
    await assert.rejects(readAll(response.body, 1 << 30, 'blob'), (e: Error) => e.name === 'AbortError');
  });

  test('a manifest stored in blobs/ but not listed in index.json is found by digest', async () => {
    const o = orchestrator();
    const applehv = nested.disks.find((d) => d.diskType === 'applehv')!;
    const source = await o.openSource(`oci-dir:${nested.layoutDir}@${applehv.manifestDigest}`);
    assert.equal(source.root?.mediaType, MediaTypes.ociManifest);
    assert.equal((await o.load(source, source.root!)).kind, 'manifest');
  });

  test('sha512 blobs are read from blobs/sha512', async () => {
    const { dir: layout, cleanup: done } = await tempDir();
    try {
      const store = await LayoutStore.init(layout);
      const bytes = Buffer.from('a sha512-addressed disk');
      const layer = {
        mediaType: 'application/octet-stream',
        digest: digestOf(bytes, 'sha512'),
        size: bytes.length,
      };
      await store.putBlob(bytes, layer);
      const manifest = await store.putJson(
        { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: EMPTY_DESCRIPTOR, layers: [layer] },
        MediaTypes.ociManifest,
      );
      await store.addManifest(manifest, { tag: 'x' });
      const o = orchestrator();
      const source = await o.openSource(`oci-dir:${layout}:x`);
      assert.deepEqual(await fetchAll(o, source, layer.digest, layer.size), bytes);
      assert.deepEqual(await fetchAll(o, source, layer.digest, layer.size, 6), bytes.subarray(6));
    } finally {
      await done();
    }
  });

  test('a layout with several tags needs one; a missing tag lists those that exist', async () => {
    const { dir: layout, cleanup: done } = await tempDir();
    try {
      const store = await LayoutStore.init(layout);
      const a = await store.putJson(
        { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] },
        MediaTypes.ociIndex,
      );
      await store.addManifest(a, { tag: '5.4' });
      await store.addManifest(a, { tag: '5.5' });
      const o = orchestrator();
      await assert.rejects(o.openSource(`oci-dir:${layout}`), (e: OcipullError) => {
        assert.equal(e.code, 'REFERENCE_INVALID');
        assert.match(e.hint ?? '', /5\.4, 5\.5/);
        return true;
      });
      await assert.rejects(o.openSource(`oci-dir:${layout}:5.6`), (e: OcipullError) => {
        assert.equal(e.code, 'TAG_NOT_FOUND');
        assert.match(e.message, /no tag "5\.6"/);
        assert.equal(e.hint, 'tags in this layout: 5.4, 5.5');
        assert.equal(e.plugin, 'ocipull-plugin-oci-dir');
        return true;
      });
    } finally {
      await done();
    }
  });

  test('a directory whose name holds a colon is a path, not a tag', async () => {
    const { dir: parent, cleanup: done } = await tempDir();
    try {
      const layout = join(parent, 'disk:5.5');
      await buildMachineOsLayout(layout, {
        tag: 'v1',
        nested: true,
        disks: [{ diskType: 'qemu', arch: 'x86_64', path: qcow2 }],
      });
      const o = orchestrator();
      assert.ok((await o.openSource(`oci-dir:${layout}`)).root);
      assert.equal((await o.openSource(`oci-dir:${layout}:v1`)).reference, `oci-dir:${layout}:v1`);
    } finally {
      await done();
    }
  });
});
