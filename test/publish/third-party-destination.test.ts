/**
 * `pack` into a third-party transport that implements only the required push members (no
 * `readTag`): with `--overwrite` it publishes blobs, then manifests, then the tagged index; merge
 * and exit-on-conflict are refused, since neither can see what the tag holds now.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  type BlobBody,
  createLogger,
  type Descriptor,
  type Destination,
  type ImageIndex,
  isOcipullError,
  Orchestrator,
  type Plugin,
  runPack,
  type Source,
} from 'ocipull';
import { compress, makeDisk } from '../support/disks.js';
import { tempDir } from '../support/paths.js';

const SCHEME = 'memdest';

/** A write-only in-memory store: what a minimal third-party destination looks like. */
class MemoryStore {
  readonly blobs = new Map<string, Buffer>();
  readonly tags = new Map<string, string>();
  readonly calls: string[] = [];
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function memoryDestinationPlugin(store: MemoryStore): Plugin {
  return {
    name: 'test-memdest',
    apply(orchestrator) {
      orchestrator.hooks.resolve.for(SCHEME).tapPromise('test-memdest', async ({ ref, purpose }) => {
        assert.equal(purpose, 'push');
        const tag = ref.rest.split(':')[1];
        const destination: Source & Destination = {
          scheme: SCHEME,
          reference: ref.raw,
          tag,
          async hasBlob(descriptor: Descriptor) {
            return store.blobs.has(descriptor.digest);
          },
          async pushBlob(descriptor: Descriptor, body: BlobBody) {
            const bytes = await readAll(await body.open(0));
            const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
            assert.equal(digest, descriptor.digest);
            store.blobs.set(digest, bytes);
            store.calls.push(`blob ${digest}`);
          },
          async pushManifest(bytes: Buffer, mediaType: string, reference: string | undefined) {
            const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
            store.blobs.set(digest, bytes);
            if (reference && !reference.startsWith('sha256:')) store.tags.set(reference, digest);
            store.calls.push(`manifest ${reference ?? digest}`);
            return { mediaType, digest, size: bytes.length };
          },
        };
        return destination;
      });
    },
  };
}

describe('pack into a third-party destination without readTag', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let disk: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-memdest-'));
    disk = await compress(
      await makeDisk(dir, { format: 'qcow2', sizeMiB: 8, dataMiB: 0.25, seed: 5, name: 'd.qcow2' }),
      'zstd',
    );
  });
  after(() => cleanup());

  const orchestratorWith = (store: MemoryStore) =>
    new Orchestrator({ log: createLogger('silent'), settings: { arch: 'x86_64' } }).use(
      memoryDestinationPlugin(store),
    );

  for (const strategy of ['merge', 'exit-on-conflict'] as const) {
    test(`--${strategy} is UNSUPPORTED, nothing is written`, async () => {
      const store = new MemoryStore();
      await assert.rejects(
        runPack(orchestratorWith(store), {
          destination: `${SCHEME}:repo:5.5`,
          disks: [{ hypervisor: 'qemu', path: disk }],
          strategy,
        }),
        (e: unknown) => {
          assert.ok(isOcipullError(e, 'UNSUPPORTED'), String(e));
          assert.match(e.message, new RegExp(`cannot read existing tags, so --${strategy}`));
          assert.match(e.hint ?? '', /--overwrite/);
          return true;
        },
      );
      assert.deepEqual(store.calls, []);
    });
  }

  test('--overwrite publishes blobs, then the manifest, then the tagged index', async () => {
    const store = new MemoryStore();
    const result = await runPack(orchestratorWith(store), {
      destination: `${SCHEME}:repo:5.5`,
      disks: [{ hypervisor: 'qemu', path: disk }],
      strategy: 'overwrite',
    });
    assert.equal(store.tags.get('5.5'), result.indexDigest);
    assert.equal(store.calls.at(-1), 'manifest 5.5', 'the tag is written last');
    const index = JSON.parse(store.blobs.get(result.indexDigest)!.toString('utf8')) as ImageIndex;
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0]!.annotations?.disktype, 'qemu');
    const layerDigest = result.disks[0]!.blobDigest;
    assert.deepEqual(store.blobs.get(layerDigest), await fsp.readFile(disk), 'the layer is the disk file');
    const manifestAt = store.calls.indexOf(`manifest ${index.manifests[0]!.digest}`);
    assert.ok(manifestAt > store.calls.indexOf(`blob ${layerDigest}`), store.calls.join('\n'));
  });
});
