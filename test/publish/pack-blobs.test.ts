/**
 * What the core offers image kinds in `pack`: a layer that is an existing blob of a source
 * (published as it is, its digest kept, copied and verified when it cannot be mounted), the
 * manifest media type and config bytes given by the kind (Docker v2s2), diff IDs in the result,
 * a work directory removed whatever the outcome, and what is refused before anything is written.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  createLogger,
  type Descriptor,
  digestOf,
  isOcipullError,
  type Kind,
  OcipullError,
  Orchestrator,
  type PackEntry,
  type PackLayer,
  runPack,
} from 'ocipull';
import { prngBytes, sha256File, useBuiltins } from '../support/files.js';
import { tempDir } from '../support/paths.js';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const LAYER = 'application/vnd.docker.image.rootfs.diff.tar';

const plan = async () => {
  throw new OcipullError('UNSUPPORTED', 'pack only');
};

/** A kind whose pack answers `entries(request)`. */
function kind(name: string, entries: Kind['pack']): Kind {
  return { name, description: `test kind ${name}`, plan, pack: entries };
}

describe('pack: existing blobs, v2s2 manifests and the work directory', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let source: string;
  let blob: Descriptor;
  const bytes = prngBytes(70_000, 7);

  const orchestrator = async (...kinds: Kind[]) => {
    const o = await useBuiltins(
      new Orchestrator({ log: createLogger('silent'), settings: { arch: 'x86_64' } }),
      ['oci-dir'],
    );
    for (const k of kinds) o.kinds.register(k);
    return o;
  };

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-pack-blobs-'));
    // The source: a layout holding `bytes` as a layer blob, published by pack itself.
    source = join(dir, 'source');
    const o = await orchestrator(
      kind('plain', async (r) => [
        {
          layers: [{ open: async () => Readable.from([bytes]), codec: 'none', mediaType: LAYER }],
          platform: r.platform,
        },
      ]),
    );
    const packed = await runPack(o, { destination: `oci-dir:${source}:base`, kind: 'plain' });
    blob = packed.entries[0]!.layers[0]!;
    assert.equal(blob.digest, digestOf(bytes));
  });
  after(() => cleanup());

  const reuse = (layer: Partial<PackLayer>, entry: Partial<PackEntry> = {}) =>
    kind('reuse', async (r) => {
      const config = Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: ['sha256:1'] } }));
      return [
        {
          layers: [
            {
              blob,
              from: `oci-dir:${source}:base`,
              codec: 'none',
              asIs: true,
              mediaType: LAYER,
              diffId: blob.digest,
              ...layer,
            },
          ],
          config: { mediaType: DOCKER_CONFIG, bytes: config },
          manifestMediaType: DOCKER_MANIFEST,
          platform: r.platform,
          ...entry,
        },
      ];
    });

  it('an existing blob is copied with its digest; the manifest is v2s2 with the given config; diff IDs in the result', async () => {
    const out = join(dir, 'out');
    const result = await runPack(await orchestrator(reuse({})), {
      destination: `oci-dir:${out}:app`,
      kind: 'reuse',
    });
    const [entry] = result.entries;
    assert.equal(entry?.manifestMediaType, DOCKER_MANIFEST);
    assert.deepEqual(entry?.diffIds, [blob.digest]);
    assert.equal(entry?.layers[0]?.digest, blob.digest);
    assert.equal(entry?.config.mediaType, DOCKER_CONFIG);
    assert.equal(`sha256:${await sha256File(join(out, 'blobs', ...blob.digest.split(':')))}`, blob.digest);
    const manifest = JSON.parse(
      await fsp.readFile(join(out, 'blobs', ...entry!.manifestDigest.split(':')), 'utf8'),
    );
    assert.equal(manifest.mediaType, DOCKER_MANIFEST);
    assert.deepEqual(manifest.layers, [{ mediaType: LAYER, digest: blob.digest, size: blob.size }]);
    // The tag's index (always OCI) lists the manifest with its Docker media type.
    const top = JSON.parse(await fsp.readFile(join(out, 'index.json'), 'utf8')).manifests[0];
    const index = JSON.parse(await fsp.readFile(join(out, 'blobs', ...top.digest.split(':')), 'utf8'));
    assert.deepEqual(
      index.manifests.map((m: Descriptor) => [m.mediaType, m.digest]),
      [[DOCKER_MANIFEST, entry!.manifestDigest]],
    );
    assert.equal(result.blobs.mounted, 0);
  });

  it('a blob the source does not hold as described fails the pack; the tag is not written', async () => {
    const out = join(dir, 'wrong');
    const wrong = { ...blob, digest: digestOf(Buffer.from('not there')) };
    await assert.rejects(
      runPack(await orchestrator(reuse({ blob: wrong })), {
        destination: `oci-dir:${out}:app`,
        kind: 'reuse',
      }),
      (e) => {
        assert.ok(isOcipullError(e), String(e));
        return true;
      },
    );
    const index = await fsp.readFile(join(out, 'index.json'), 'utf8').catch(() => '{"manifests":[]}');
    assert.deepEqual(JSON.parse(index).manifests, []);
  });

  it('refused before anything is written: a blob without its source, a v2s2 manifest with an artifact type, an unknown manifest type', async () => {
    const cases: [Kind, RegExp][] = [
      [reuse({ from: undefined }), /an existing blob without the source it is in/],
      [reuse({}, { artifactType: 'application/vnd.x' }), /Docker v2s2 manifest with an artifactType/],
      [reuse({}, { manifestMediaType: 'application/json' }), /asked for a application\/json manifest/],
    ];
    for (const [k, message] of cases) {
      const out = join(dir, 'refused');
      await assert.rejects(
        runPack(await orchestrator(k), { destination: `oci-dir:${out}`, kind: 'reuse' }),
        (e) => {
          assert.ok(isOcipullError(e, 'PLUGIN_INVALID'), String(e));
          assert.match(e.message, message);
          return true;
        },
      );
      await assert.rejects(fsp.stat(out), { code: 'ENOENT' });
    }
  });

  it('the work directory is the same on every call and removed after the pack, failed or not', async () => {
    const seen: string[] = [];
    const writer = (fail: boolean) =>
      kind('writer', async (r) => {
        const work = await r.workDir!();
        assert.equal(await r.workDir!(), work);
        seen.push(work);
        const file = join(work, 'layer');
        await fsp.writeFile(file, bytes);
        if (fail) throw new OcipullError('PACK_INPUT_INVALID', 'refused after writing');
        return [{ layers: [{ path: file, codec: 'none', mediaType: LAYER }], platform: r.platform }];
      });
    await runPack(await orchestrator(writer(false)), {
      destination: `oci-dir:${join(dir, 'w1')}`,
      kind: 'writer',
    });
    await assert.rejects(
      runPack(await orchestrator(writer(true)), {
        destination: `oci-dir:${join(dir, 'w2')}`,
        kind: 'writer',
      }),
      /refused after writing/,
    );
    assert.equal(seen.length, 2);
    for (const work of seen) await assert.rejects(fsp.stat(work), { code: 'ENOENT' });
  });

  it('a base needs the kind that pulls its tree', async () => {
    const o = await orchestrator(
      kind('based', async (r) => {
        await r.base!(`oci-dir:${source}:base`);
        return [];
      }),
    );
    await assert.rejects(runPack(o, { destination: `oci-dir:${join(dir, 'b')}`, kind: 'based' }), (e) => {
      assert.ok(isOcipullError(e, 'PACK_INPUT_INVALID'), String(e));
      assert.match(e.message, /--base needs the rootfs kind/);
      assert.match(e.hint ?? '', /ocipull-plugin-kind-rootfs/);
      return true;
    });
  });
});
