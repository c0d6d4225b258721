import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { tempDir } from '../../test/support/paths.js';
import type { OcipullError } from '../errors/errors.js';
import { digestOf } from '../oci/digest.js';
import { Annotations, MediaTypes } from '../oci/media-types.js';
import { LayoutStore } from './store.js';

async function entries(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).sort();
}

test('init writes oci-layout, an empty index and is idempotent', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await LayoutStore.init(dir);
  assert.deepEqual(JSON.parse(await fsp.readFile(join(dir, 'oci-layout'), 'utf8')), {
    imageLayoutVersion: '1.0.0',
  });
  assert.deepEqual((await store.readIndex()).manifests, []);
  await store.addManifest(
    { mediaType: MediaTypes.ociManifest, digest: digestOf(Buffer.from('x')), size: 1 },
    { tag: 'a' },
  );
  await LayoutStore.init(dir);
  assert.equal((await store.readIndex()).manifests.length, 1, 'a second init keeps the index');
});

test('putBlob hashes while writing, renames only verified content, existing blob is a no-op', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await LayoutStore.init(dir);
  const bytes = Buffer.from('hello layout');
  // The expectation comes from node:crypto, not from the digest code under test.
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  assert.deepEqual(await store.putBlob(Readable.from([bytes.subarray(0, 5), bytes.subarray(5)])), {
    digest,
    size: bytes.length,
  });
  assert.deepEqual(await fsp.readFile(store.blobPath(digest)), bytes);
  const before = await fsp.stat(store.blobPath(digest));
  await store.putBlob(Buffer.from('other bytes that are never read'), { digest, size: bytes.length });
  assert.equal((await fsp.stat(store.blobPath(digest))).mtimeMs, before.mtimeMs);
  assert.deepEqual(await fsp.readFile(store.blobPath(digest)), bytes);

  const lie = { digest: digestOf(Buffer.from('something else')), size: bytes.length };
  await assert.rejects(store.putBlob(bytes, lie), (e: OcipullError) => e.code === 'DIGEST_MISMATCH');
  await assert.rejects(
    store.putBlob(bytes, { digest: lie.digest, size: 3 }),
    (e: OcipullError) => e.code === 'SIZE_MISMATCH',
  );
  assert.equal(await store.hasBlob(lie.digest), false);
  assert.deepEqual(await entries(join(dir, 'blobs', 'sha256')), [digest.slice(7)], 'no temp file is left');

  const sha512 = `sha512:${createHash('sha512').update(bytes).digest('hex')}`;
  await store.putBlob(bytes, { digest: sha512, size: bytes.length });
  assert.deepEqual(await fsp.readFile(join(dir, 'blobs', 'sha512', sha512.slice(7))), bytes);
});

test('putJson and addManifest: tags replace, untagged entries are added once', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = await LayoutStore.init(dir);
  const a = await store.putJson({ schemaVersion: 2, manifests: [] }, MediaTypes.ociIndex);
  const b = await store.putJson(
    { schemaVersion: 2, manifests: [], annotations: { b: '1' } },
    MediaTypes.ociIndex,
  );
  await store.addManifest(a, { tag: 'latest' });
  await store.addManifest(b, { tag: 'latest' });
  await store.addManifest(a, { tag: '1.0' });
  await store.addManifest(a);
  await store.addManifest(a);
  const index = await store.readIndex();
  assert.deepEqual(
    index.manifests.map((m) => [m.digest, m.annotations?.[Annotations.refName]]),
    [
      [b.digest, 'latest'],
      [a.digest, '1.0'],
      [a.digest, undefined],
    ],
  );
  await assert.rejects(store.addManifest(a, { tag: '../x' }), (e: OcipullError) => e.code === 'TAG_INVALID');
});

test('concurrent writers in separate processes never lose an index entry', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  await LayoutStore.init(dir);
  const script = join(dir, 'writer.mjs');
  const storeModule = new URL('./store.js', import.meta.url).href;
  await fsp.writeFile(
    script,
    `import { LayoutStore } from ${JSON.stringify(storeModule)};
const [dir, who] = process.argv.slice(2);
const store = await LayoutStore.open(dir);
for (let i = 0; i < 15; i++) {
  const d = await store.putJson({ schemaVersion: 2, manifests: [], annotations: { who, i: String(i) } }, 'application/vnd.oci.image.index.v1+json');
  await store.addManifest(d, { tag: who + '-' + i });
}
`,
  );
  const writers = ['a', 'b', 'c', 'd'].map(
    (who) =>
      new Promise<number | null>((resolve) => {
        fork(script, [dir, who], { stdio: 'inherit' }).on('exit', resolve);
      }),
  );
  assert.deepEqual(await Promise.all(writers), [0, 0, 0, 0]);
  const store = await LayoutStore.open(dir);
  const tags = (await store.readIndex()).manifests.map((m) => m.annotations?.[Annotations.refName]).sort();
  assert.equal(tags.length, 60);
  assert.equal(new Set(tags).size, 60);
  assert.ok(!(await entries(dir)).includes('index.json.lock'), 'the lock is released');
});
