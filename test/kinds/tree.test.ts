import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger, type Kind, OcipullError, Orchestrator, type Plan } from 'ocipull';
import { exists, prngBytes, useBuiltins } from '../support/files.js';
import { type Layout, writeLayerLayout } from '../support/kind-layout.js';
import { tempDir } from '../support/paths.js';

const PLUGINS = ['oci-dir', 'disk-select', 'unpack-blob', 'codec-none', 'cache'];
const TYPE = 'application/vnd.example.layers.v1';

interface Trace {
  order: number[];
  /** The most custom placements running at once. */
  peak: number;
}

/**
 * A `tree` kind whose layers are placed by the kind itself (`custom`), in order: each layer's
 * bytes are written to `staging/layers/<i>`, and `finish` writes `staging/LIST`.
 */
function treeKind(trace: Trace, hooks: { onPlace?(index: number): void } = {}): Kind {
  let active = 0;
  return {
    name: 'layers',
    description: 'layers placed in order (test kind)',
    async plan({ root, load }): Promise<Plan> {
      const doc = root.kind === 'manifest' ? root : await load(root.index.manifests[0]!);
      if (doc.kind !== 'manifest') throw new OcipullError('INTERNAL', 'not a manifest');
      return {
        kind: 'layers',
        manifestDescriptor: doc.descriptor,
        manifest: doc.manifest,
        platform: { os: 'linux', architecture: 'amd64' },
        ordered: true,
        output: { type: 'tree' },
        parts: doc.manifest.layers.map((descriptor, index) => ({
          role: 'layer',
          descriptor,
          decode: { unpack: 'blob', codec: 'none' },
          place: {
            type: 'custom' as const,
            async place({ input, staging }) {
              active++;
              trace.peak = Math.max(trace.peak, active);
              try {
                hooks.onPlace?.(index);
                const chunks: Buffer[] = [];
                for await (const chunk of input) chunks.push(chunk as Buffer);
                await mkdir(join(staging, 'layers'), { recursive: true });
                await writeFile(join(staging, 'layers', String(index)), Buffer.concat(chunks));
                trace.order.push(index);
              } finally {
                active--;
              }
            },
          },
        })),
        async finish(staging) {
          await writeFile(join(staging, 'LIST'), `${trace.order.join(' ')}\n`);
        },
      };
    },
  };
}

let dir: string;
let cleanup: () => Promise<void>;
let layers: Buffer[];
let good: Layout;
let bad: Layout;

before(async () => {
  ({ dir, cleanup } = await tempDir('ocipull-tree-'));
  layers = [prngBytes(400_000, 1), prngBytes(1000, 2), prngBytes(250_000, 3)];
  const files = layers.map((bytes) => ({ bytes, mediaType: 'application/octet-stream' }));
  good = await writeLayerLayout(join(dir, 'good'), files, TYPE);
  bad = await writeLayerLayout(join(dir, 'bad'), files, TYPE);
  const blob = await readFile(bad.blobs[1]!);
  blob[0] ^= 0xff;
  await writeFile(bad.blobs[1]!, blob);
});
after(() => cleanup());

async function orchestrator(kind: Kind, cache: string): Promise<Orchestrator> {
  const settings = { kind: 'layers', cacheDir: cache, concurrency: 3 };
  const o = await useBuiltins(new Orchestrator({ log: createLogger('silent'), settings }), PLUGINS);
  o.kinds.register(kind);
  return o;
}

async function assertNothingLeft(target: string): Promise<void> {
  assert.equal(await exists(target), false, `${target} exists`);
  assert.deepEqual(
    (await readdir(dir)).filter((n) => n.includes('ocipull-')),
    [],
  );
}

describe('a tree output of custom-placed, ordered parts', () => {
  it('places each layer in plan order, one at a time, runs finish, then commits the tree', async () => {
    const trace: Trace = { order: [], peak: 0 };
    const out = join(dir, 'tree');
    const result = await (await orchestrator(treeKind(trace), join(dir, 'c1'))).pull({
      source: `oci-dir:${good.dir}:v1`,
      output: out,
    });
    assert.deepEqual(trace.order, [0, 1, 2]);
    assert.equal(trace.peak, 1);
    for (const [i, bytes] of layers.entries())
      assert.deepEqual(await readFile(join(out, 'layers', String(i))), bytes);
    assert.equal(await readFile(join(out, 'LIST'), 'utf8'), '0 1 2\n');
    const parts = result.details!.parts as { digest: string }[];
    assert.equal(parts.length, 3);
    assert.equal(result.blobDigest, parts[0]!.digest);
    await assertNothingLeft(join(dir, 'no-such'));
  });

  it('a layer that does not verify fails the run (DIGEST_MISMATCH) whatever the kind did with it', async () => {
    const out = join(dir, 'bad-tree');
    const o = await orchestrator(treeKind({ order: [], peak: 0 }), join(dir, 'c2'));
    await assert.rejects(o.pull({ source: `oci-dir:${bad.dir}:v1`, output: out }), {
      code: 'DIGEST_MISMATCH',
    });
    await assertNothingLeft(out);
  });

  it('an interrupt while placing leaves nothing at the target and no staging directory', async () => {
    const controller = new AbortController();
    const out = join(dir, 'cut-tree');
    const kind = treeKind(
      { order: [], peak: 0 },
      {
        onPlace: (index) => {
          if (index === 1) controller.abort(new OcipullError('INTERRUPTED', 'stopped by the test'));
        },
      },
    );
    const o = await orchestrator(kind, join(dir, 'c3'));
    await assert.rejects(
      o.pull({ source: `oci-dir:${good.dir}:v1`, output: out, signal: controller.signal }),
      {
        code: 'INTERRUPTED',
      },
    );
    await assertNothingLeft(out);
  });

  it('--replace replaces a directory only; a file at the target is refused and kept', async () => {
    const settings = { kind: 'layers', cacheDir: join(dir, 'c5'), replace: true };
    const o = await useBuiltins(new Orchestrator({ log: createLogger('silent'), settings }), PLUGINS);
    o.kinds.register(treeKind({ order: [], peak: 0 }));
    const file = join(dir, 'a-file');
    await writeFile(file, 'keep me');
    await assert.rejects(o.pull({ source: `oci-dir:${good.dir}:v1`, output: file }), {
      code: 'OUTPUT_EXISTS',
    });
    assert.equal(await readFile(file, 'utf8'), 'keep me');
    // `-o DIR` that exists holds the output, named `layers` (the kind's name: no outputName):
    // the old tree there is replaced, and a staging directory of a killed run (a pid that cannot
    // exist) beside it is removed.
    const out = join(dir, 'holder');
    await mkdir(join(out, 'layers'), { recursive: true });
    await writeFile(join(out, 'layers', 'old'), 'old');
    const orphan = join(out, '.layers.999999999-0badcafe.ocipull-tmp');
    await mkdir(orphan);
    await o.pull({ source: `oci-dir:${good.dir}:v1`, output: out });
    assert.deepEqual((await readdir(join(out, 'layers'))).sort(), ['LIST', 'layers']);
    assert.deepEqual(await readdir(out), ['layers']);
    await assertNothingLeft(join(dir, 'no-such'));
  });

  it('a kind that fails in finish leaves nothing either', async () => {
    const base = treeKind({ order: [], peak: 0 });
    const failing: Kind = {
      ...base,
      async plan(request) {
        const plan = await base.plan(request);
        return {
          ...plan,
          finish: async () => {
            throw new OcipullError('OUTPUT_FAILED', 'finish failed (test)');
          },
        };
      },
    };
    const out = join(dir, 'finish-tree');
    const o = await orchestrator(failing, join(dir, 'c4'));
    await assert.rejects(o.pull({ source: `oci-dir:${good.dir}:v1`, output: out }), {
      code: 'OUTPUT_FAILED',
    });
    await assertNothingLeft(out);
  });
});
