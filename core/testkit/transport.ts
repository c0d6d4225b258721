/**
 * The transport conformance kit (`ocipull/testkit/transport`): node:test tests a transport
 * package runs against itself, the way go-containerregistry's `validate` runs against every
 * implementation. The kit makes known content (an index listing one manifest, a config and a
 * layer of random bytes), the package puts it where its transport reads it (`publish`), and the
 * kit checks what the core relies on, through the orchestrator as a pull would:
 *
 * - resolve: the reference resolves to the root descriptor published, and `reference` round-trips;
 * - a reference that names nothing fails with a typed not-found error (exit 3: TAG_NOT_FOUND,
 *   MANIFEST_NOT_FOUND, NAME_UNKNOWN, ...);
 * - fetch from offset 0 gives every byte of each blob and document; from an offset, the response's
 *   `offset` says honestly where its bytes start (a source that ignores ranges answers 0);
 * - fetch of a digest the source does not hold fails with a typed not-found error, when asked or
 *   when read;
 * - a destination (when `destination` is given): hasBlob / pushBlob / pushManifest / readTag round
 *   trip, a blob whose bytes do not match its descriptor is refused, and what was pushed pulls back.
 *
 * Verifying digests of fetched bytes is the core's job (a transport never needs to), so the kit does
 * not ask the transport to catch wrong bytes. See docs/plugins.md, "Testing your transport".
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { EXIT, exitCodeFor } from '../errors/codes.js';
import { isOcipullError } from '../errors/errors.js';
import { createLogger } from '../log.js';
import { MediaTypes } from '../oci/media-types.js';
import { Orchestrator } from '../orchestrator.js';
import { isDestination } from '../publish/destination.js';
import type { Descriptor, Plugin, Source, TransportOptions } from '../types.js';

/** One document or blob of the content: its descriptor and exact bytes. */
export interface ConformanceItem {
  descriptor: Descriptor;
  bytes: Buffer;
}

/** What `publish` must make reachable under `tag`. */
export interface ConformanceContent {
  tag: string;
  /** The document the tag points at: an image index listing `manifest`. */
  index: ConformanceItem;
  manifest: ConformanceItem;
  /** The manifest's config and its one layer. */
  config: ConformanceItem;
  layer: ConformanceItem;
  /** Every blob (config, layer), then every document children first (manifest, index). */
  blobs: ConformanceItem[];
  documents: ConformanceItem[];
}

export interface TransportConformanceOptions {
  /** The suite's name (each test's name starts with it). */
  name: string;
  /** The plugins a fresh orchestrator gets (the transport under test and what it needs). */
  plugins(): Plugin[] | Promise<Plugin[]>;
  /** Put `content` where the transport reads it; answer `TRANSPORT:REFERENCE` naming its tag. */
  publish(content: ConformanceContent): Promise<string>;
  /** A reference of the transport that names nothing (a tag never published, say). */
  missing(): string | Promise<string>;
  /** A fresh reference to push to, naming a tag: the destination checks run when given. */
  destination?(): string | Promise<string>;
  /** Transport options for every resolve (`tlsVerify: false` for a local plain-HTTP registry). */
  transport?: TransportOptions;
  /** The response to an offset must start there (default true; false: answering from 0 is allowed). */
  ranges?: boolean;
  /** Layer size in bytes (default 300 KiB + 17: more than one read of most sources). */
  layerSize?: number;
  /** Run before the suite / after it (start and stop a server). */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

function item(mediaType: string, bytes: Buffer, extra: Partial<Descriptor> = {}): ConformanceItem {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  return { descriptor: { mediaType, digest, size: bytes.length, ...extra }, bytes };
}

/** Fresh content: random bytes, so nothing a source held before can pass for it. */
export function conformanceContent(layerSize = 300 * 1024 + 17): ConformanceContent {
  const tag = `conformance-${randomBytes(4).toString('hex')}`;
  const config = item(
    'application/vnd.oci.image.config.v1+json',
    Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
    ),
  );
  const layer = item('application/octet-stream', randomBytes(layerSize), {
    annotations: { 'org.opencontainers.image.title': 'conformance.bin' },
  });
  const manifest = item(
    MediaTypes.ociManifest,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: config.descriptor,
        layers: [layer.descriptor],
      }),
    ),
  );
  const entry = { ...manifest.descriptor, platform: { architecture: 'amd64', os: 'linux' } };
  const index = item(
    MediaTypes.ociIndex,
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [entry] })),
  );
  return { tag, index, manifest, config, layer, blobs: [config, layer], documents: [manifest, index] };
}

async function drain(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** A typed error of the not-found kind (exit 3). */
function assertNotFound(error: unknown, what: string): true {
  assert.ok(isOcipullError(error), `${what}: an OcipullError with a stable code, not ${String(error)}`);
  assert.equal(
    exitCodeFor(error.code),
    EXIT.NOT_FOUND,
    `${what}: a not-found code (exit ${EXIT.NOT_FOUND}), not ${error.code}`,
  );
  return true;
}

function sameDescriptor(actual: Descriptor | undefined, expected: Descriptor, what: string): void {
  assert.ok(actual, `${what}: a descriptor`);
  assert.deepEqual(
    { mediaType: actual.mediaType, digest: actual.digest, size: actual.size },
    { mediaType: expected.mediaType, digest: expected.digest, size: expected.size },
    what,
  );
}

const bodyOf = (bytes: Buffer) => ({
  open: async (offset = 0) => Readable.from([bytes.subarray(offset)]),
});

/** Register the conformance tests of one transport (call it at the top level of a test file). */
export function transportConformance(options: TransportConformanceOptions): void {
  const ranges = options.ranges ?? true;
  const transport = options.transport ?? {};
  const signal = new AbortController().signal;
  const orchestrator = async (): Promise<Orchestrator> => {
    const o = new Orchestrator({ log: createLogger('silent'), settings: { transport } });
    for (const plugin of await options.plugins()) o.use(plugin);
    return o;
  };

  describe(`${options.name}: transport conformance`, () => {
    let content: ConformanceContent;
    let ref: string;
    let source: Source;
    let o: Orchestrator;

    before(async () => {
      await options.setup?.();
      content = conformanceContent(options.layerSize);
      ref = await options.publish(content);
      o = await orchestrator();
      source = await o.openSource(ref, { transport, signal });
    });
    after(async () => {
      await source?.close?.();
      await options.teardown?.();
    });

    it('resolve: the reference resolves to the root descriptor, and its canonical reference round-trips', async () => {
      sameDescriptor(source.root, content.index.descriptor, 'root');
      assert.equal(typeof source.scheme, 'string');
      assert.ok(
        o.transportSchemes().includes(source.scheme),
        `${source.scheme} is a scheme the plugin resolves`,
      );
      assert.ok(
        source.reference.startsWith(`${source.scheme}:`),
        `${source.reference} is TRANSPORT:REFERENCE for ${source.scheme}`,
      );
      const again = await o.openSource(source.reference, { transport, signal });
      try {
        sameDescriptor(again.root, content.index.descriptor, `root of ${source.reference}`);
      } finally {
        await again.close?.();
      }
    });

    it('resolve: a reference that names nothing is a typed not-found error', async () => {
      const missing = await options.missing();
      await assert.rejects(o.openSource(missing, { transport, signal }), (e) => assertNotFound(e, missing));
    });

    it('fetch from offset 0: every byte of each blob and document, offset 0', async () => {
      for (const { descriptor, bytes } of [...content.blobs, ...content.documents]) {
        const response = await o.fetchRaw(source, descriptor, 0, signal);
        assert.equal(response.offset, 0, `${descriptor.digest}: offset`);
        if (response.total !== undefined) assert.equal(response.total, bytes.length, 'total');
        assert.ok((await drain(response.body)).equals(bytes), `${descriptor.digest}: the bytes published`);
      }
    });

    it('fetch from an offset (Range): the response says honestly where its bytes start', async () => {
      const { descriptor, bytes } = content.layer;
      for (const offset of [1, Math.floor(bytes.length / 2) + 1, bytes.length - 1]) {
        const response = await o.fetchRaw(source, descriptor, offset, signal);
        if (ranges) assert.equal(response.offset, offset, `asked from ${offset}`);
        else assert.ok([0, offset].includes(response.offset), `asked from ${offset}: 0 or ${offset}`);
        const got = await drain(response.body);
        assert.ok(
          got.equals(bytes.subarray(response.offset)),
          `from ${offset}: ${got.length} bytes, which are the blob's from ${response.offset} on`,
        );
      }
    });

    it('fetch of a digest the source does not hold is a typed not-found error', async () => {
      const absent = item('application/octet-stream', randomBytes(1024)).descriptor;
      await assert.rejects((async () => drain((await o.fetchRaw(source, absent, 0, signal)).body))(), (e) =>
        assertNotFound(e, `fetch ${absent.digest}`),
      );
    });

    it('load: the core reads and parses the index and the manifest through the transport', async () => {
      const index = await o.load(source, content.index.descriptor, signal);
      assert.equal(index.kind, 'index');
      const manifest = await o.load(source, content.manifest.descriptor, signal);
      assert.equal(manifest.kind, 'manifest');
      if (manifest.kind === 'manifest')
        assert.equal(manifest.manifest.layers[0]?.digest, content.layer.descriptor.digest);
    });

    if (options.destination) {
      const destinationRef = options.destination.bind(options);
      it('as a destination: hasBlob / pushBlob / pushManifest / readTag round trip, and it pulls back', async () => {
        const fresh = conformanceContent(options.layerSize);
        const raw = await destinationRef();
        const dest = await o.openSource(raw, { purpose: 'push', transport, signal });
        try {
          assert.ok(isDestination(dest), `${raw} resolved for push has hasBlob, pushBlob and pushManifest`);
          const tag = dest.tag ?? fresh.tag;
          if (dest.readTag) assert.equal(await dest.readTag(tag, signal), undefined, 'no tag yet');

          // Bytes that are not what the descriptor says are refused, and not kept.
          const claimed = item('application/octet-stream', randomBytes(4096)).descriptor;
          await assert.rejects(dest.pushBlob(claimed, bodyOf(randomBytes(4096)), signal));
          assert.equal(await dest.hasBlob(claimed, signal), false, 'a refused blob is not there');

          for (const { descriptor, bytes } of fresh.blobs) {
            assert.equal(await dest.hasBlob(descriptor, signal), false, `${descriptor.digest} not there yet`);
            await dest.pushBlob(descriptor, bodyOf(bytes), signal);
            assert.equal(await dest.hasBlob(descriptor, signal), true, `${descriptor.digest} there`);
          }
          const m = fresh.manifest;
          sameDescriptor(
            await dest.pushManifest(m.bytes, m.descriptor.mediaType, m.descriptor.digest, signal),
            m.descriptor,
            'manifest pushed by digest',
          );
          const i = fresh.index;
          sameDescriptor(
            await dest.pushManifest(i.bytes, i.descriptor.mediaType, tag, signal),
            i.descriptor,
            `index pushed under ${tag}`,
          );
          if (dest.readTag) {
            const tagged = await dest.readTag(tag, signal);
            assert.ok(tagged, `${tag} reads back`);
            assert.equal(tagged.descriptor.digest, i.descriptor.digest);
            assert.ok(tagged.bytes.equals(i.bytes), 'readTag gives the bytes pushed');
          }
        } finally {
          await dest.close?.();
        }
        const pulled = await o.openSource(raw, { transport, signal });
        try {
          sameDescriptor(pulled.root, fresh.index.descriptor, `${raw} resolves to what was pushed`);
          const response = await o.fetchRaw(pulled, fresh.layer.descriptor, 0, signal);
          assert.ok((await drain(response.body)).equals(fresh.layer.bytes), 'the layer pulls back');
        } finally {
          await pulled.close?.();
        }
      });
    }
  });
}
