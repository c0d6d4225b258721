/**
 * `pack` through kinds, the parts every kind shares: the kind is looked up (NO_KIND with a
 * suggestion, UNSUPPORTED for a kind that cannot pack), what it answers is checked, an untyped
 * failure of the kind names it, a layer failing half way leaves the tag as it was and no temp file
 * behind, and a kind without its own `entryKey` merges by artifact type and platform.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  createLogger,
  type Descriptor,
  type ImageIndex,
  isOcipullError,
  type Kind,
  MediaTypes,
  mergeIndex,
  OcipullError,
  Orchestrator,
  type PackEntry,
  platformKey,
  runPack,
} from 'ocipull';
import { prngBytes, useBuiltins } from '../support/files.js';
import { tempDir } from '../support/paths.js';

const plan = async () => {
  throw new OcipullError('UNSUPPORTED', 'pack only');
};

/** A kind packing `inputs.parts` (byte buffers) as one manifest, each part a layer from open(). */
function partsKind(name: string, pack?: Kind['pack']): Kind {
  return {
    name,
    description: `test kind ${name}`,
    plan,
    pack:
      pack ??
      (async (request): Promise<PackEntry[]> => [
        {
          layers: (request.inputs.parts as (Buffer | Error)[]).map((part, n) => ({
            open: async () => {
              if (part instanceof Error) throw part;
              return Readable.from([part]);
            },
            codec: n % 2 ? 'gzip' : 'none',
            mediaType: 'application/octet-stream',
            annotations: { 'org.opencontainers.image.title': `part-${n}` },
          })),
          artifactType: `application/vnd.test.${name}`,
          platform: request.platform,
        },
      ]),
  };
}

describe('pack through kinds: what every kind shares', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-pack-kinds-'));
  });
  after(() => cleanup());

  const orchestrator = async (...kinds: Kind[]) => {
    const o = await useBuiltins(
      new Orchestrator({ log: createLogger('silent'), settings: { arch: 'x86_64' } }),
      ['oci-dir'],
    );
    for (const kind of kinds) o.kinds.register(kind);
    return o;
  };

  it('an unknown kind is NO_KIND with the closest name; a kind without pack is UNSUPPORTED', async () => {
    const o = await orchestrator(partsKind('parts'), { name: 'viewer', description: 'x', plan });
    await assert.rejects(runPack(o, { destination: `oci-dir:${join(dir, 'none')}`, kind: 'prats' }), (e) => {
      assert.ok(isOcipullError(e, 'NO_KIND'), String(e));
      assert.match(e.hint ?? '', /did you mean "parts"/);
      return true;
    });
    await assert.rejects(runPack(o, { destination: `oci-dir:${join(dir, 'none')}`, kind: 'viewer' }), (e) => {
      assert.ok(isOcipullError(e, 'UNSUPPORTED'), String(e));
      assert.match(e.message, /the viewer kind cannot pack/);
      assert.match(e.hint ?? '', /kinds that pack: parts/);
      return true;
    });
    await assert.rejects(fsp.stat(join(dir, 'none')), { code: 'ENOENT' });
  });

  it('a kind answering nothing, or a layer with no bytes, is refused before anything is written', async () => {
    const empty = partsKind('empty', async () => []);
    const bytesless = partsKind('bytesless', async (r) => [
      { layers: [{ codec: 'none', mediaType: 'application/octet-stream' }], platform: r.platform },
    ]);
    const o = await orchestrator(empty, bytesless);
    const layout = join(dir, 'refused');
    await assert.rejects(runPack(o, { destination: `oci-dir:${layout}`, kind: 'empty' }), (e) => {
      assert.ok(isOcipullError(e, 'PACK_INPUT_INVALID'), String(e));
      assert.match(e.message, /the empty kind found nothing to pack/);
      return true;
    });
    await assert.rejects(runPack(o, { destination: `oci-dir:${layout}`, kind: 'bytesless' }), (e) => {
      assert.ok(isOcipullError(e, 'PLUGIN_INVALID'), String(e));
      assert.match(e.message, /neither a path nor open\(\)/);
      return true;
    });
    await assert.rejects(fsp.stat(layout), { code: 'ENOENT' });
  });

  it("a kind's untyped failure is PLUGIN_FAILED naming the kind", async () => {
    const o = await orchestrator(
      partsKind('broken', async () => {
        throw new TypeError('inputs.parts is not iterable');
      }),
    );
    await assert.rejects(
      runPack(o, { destination: `oci-dir:${join(dir, 'broken')}`, kind: 'broken' }),
      (e) => {
        assert.ok(isOcipullError(e, 'PLUGIN_FAILED'), String(e));
        assert.match(e.message, /kind broken failed in hook pack: inputs.parts is not iterable/);
        return true;
      },
    );
  });

  it('a layer failing half way leaves the tag as it was and no temp file in the layout', async () => {
    const o = await orchestrator(partsKind('parts'));
    const layout = join(dir, 'halfway');
    const first = await runPack(o, {
      destination: `oci-dir:${layout}:t`,
      kind: 'parts',
      inputs: { parts: [prngBytes(10_000, 1), prngBytes(20_000, 2), prngBytes(5_000, 3)] },
    });
    assert.equal(first.entries[0]?.layers.length, 3);
    assert.deepEqual(first.entries[0]?.codecs, ['none', 'gzip', 'none']);
    const before = await fsp.readFile(join(layout, 'index.json'));
    const listing = async () => (await fsp.readdir(layout, { recursive: true })).sort();
    const filesBefore = await listing();
    await assert.rejects(
      runPack(o, {
        destination: `oci-dir:${layout}:t`,
        kind: 'parts',
        arch: 'aarch64',
        inputs: { parts: [prngBytes(10_000, 4), new Error('the second part went away')] },
      }),
      (e) => {
        assert.ok(isOcipullError(e, 'PLUGIN_FAILED'), String(e));
        assert.match(e.message, /kind parts failed in hook pack: the second part went away/);
        return true;
      },
    );
    assert.deepEqual(await fsp.readFile(join(layout, 'index.json')), before, 'the tag is untouched');
    const filesAfter = (await listing()).filter((f) => !filesBefore.includes(f));
    // Only the blob of the first part (complete, content-addressed) may have been added.
    assert.ok(
      filesAfter.every((f) => /^blobs\/sha256\/[0-9a-f]{64}$/.test(f)),
      `no temp files left: ${filesAfter.join(', ')}`,
    );
    assert.ok(filesAfter.length <= 1, filesAfter.join(', '));
  });

  it('a kind without entryKey merges by artifact type and platform: its own earlier build is replaced', async () => {
    const o = await orchestrator(partsKind('parts'));
    const layout = join(dir, 'merge');
    const pack = (arch: string, seed: number) =>
      runPack(o, {
        destination: `oci-dir:${layout}:m`,
        kind: 'parts',
        arch,
        inputs: { parts: [prngBytes(1000, seed)] },
      });
    const amd = await pack('amd64', 10);
    const arm = await pack('arm64', 11);
    assert.deepEqual([arm.kept, arm.replaced], [1, 0]);
    const amd2 = await pack('x86_64', 12);
    assert.deepEqual([amd2.kept, amd2.replaced], [1, 1]);
    const top = JSON.parse(await fsp.readFile(join(layout, 'index.json'), 'utf8')) as ImageIndex;
    const digest = top.manifests[0]!.digest.slice('sha256:'.length);
    const index = JSON.parse(
      await fsp.readFile(join(layout, 'blobs', 'sha256', digest), 'utf8'),
    ) as ImageIndex;
    assert.deepEqual(
      index.manifests.map((m) => [m.digest, m.platform?.architecture, m.artifactType]),
      [
        [amd2.entries[0]?.manifestDigest, 'x86_64', 'application/vnd.test.parts'],
        [arm.entries[0]?.manifestDigest, 'aarch64', 'application/vnd.test.parts'],
      ],
    );
    assert.notEqual(amd.entries[0]?.manifestDigest, amd2.entries[0]?.manifestDigest);

    // As data: another artifact type of the same platform, and a platform-less entry, are kept.
    const listed = (digit: string, extra: Partial<Descriptor>): Descriptor => ({
      mediaType: MediaTypes.ociManifest,
      digest: `sha256:${digit.repeat(64)}`,
      size: 1,
      ...extra,
    });
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          listed('a', { artifactType: 'x', platform: { os: 'linux', architecture: 'amd64' } }),
          listed('b', { artifactType: 'y', platform: { os: 'linux', architecture: 'amd64' } }),
          listed('c', {}),
        ],
      }),
    );
    const existing = {
      descriptor: { mediaType: MediaTypes.ociIndex, digest: 'sha256:' + '0'.repeat(64), size: bytes.length },
      bytes,
    };
    const result = mergeIndex(
      existing,
      [listed('d', { artifactType: 'x', platform: { os: 'linux', architecture: 'x86_64' } })],
      'merge',
      'x',
      platformKey,
    );
    assert.deepEqual(
      result.index.manifests.map((m) => m.digest[7]),
      ['d', 'b', 'c'],
    );
  });
});
