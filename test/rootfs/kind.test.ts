/**
 * The rootfs kind's plan run by hand, without the pull pipeline (cli.test.ts and registry.test.ts
 * run it end to end): the config part, then the layers in order, then finish; the tree equals
 * `umoci unpack`'s.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_SETTINGS,
  type Descriptor,
  digestOf,
  isOcipullError,
  type KindPlanRequest,
  type LoadedDocument,
  type Plan,
} from 'ocipull';
import { RootfsKind } from '../../plugins/kind-rootfs/kind.js';
import { runtimeSettings } from '../../plugins/kind-rootfs/runtime.js';
import { tempDir } from '../support/paths.js';
import { diffShapes, listTree, shapeOf } from '../support/rootfs.js';
import { layoutLayers, SAMPLE_STEPS, umociImage, umociUnpack } from '../support/umoci.js';

const log = { level: 'warn', error() {}, warn() {}, info() {}, debug() {}, redact() {} } as const;

describe('the rootfs kind', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  let layout: string;
  let manifestDescriptor: Descriptor;
  let n = 0;
  const blob = (digest: string) => join(layout, 'blobs', ...digest.split(':'));

  async function loadBlob(descriptor: Descriptor): Promise<LoadedDocument> {
    const bytes = await readFile(blob(descriptor.digest));
    const parsed = JSON.parse(bytes.toString('utf8'));
    return parsed.manifests
      ? { kind: 'index', descriptor, index: parsed, bytes }
      : { kind: 'manifest', descriptor, manifest: parsed, bytes };
  }

  function request(root: LoadedDocument, settings: Record<string, unknown> = {}): KindPlanRequest {
    return {
      source: { scheme: 'oci', reference: `oci:${layout}:test` },
      root,
      settings: {
        ...DEFAULT_SETTINGS,
        diskType: 'qemu',
        cacheDir: base,
        os: 'linux',
        arch: 'amd64',
        ...settings,
      },
      load: loadBlob,
      select: () => Promise.reject(new Error('the rootfs kind never asks the select hook')),
      expandOutputName: () => 'rootfs',
      readBlob: () => Promise.reject(new Error('the rootfs kind fetches its config as a part')),
      signal: new AbortController().signal,
      log,
    };
  }

  /** Place every part in order with its blob (or what `input` gives), then finish. */
  async function runPlan(
    plan: Plan,
    staging: string,
    input: (part: Descriptor) => Readable = (part) => createReadStream(blob(part.digest)),
  ) {
    await mkdir(staging);
    const signal = new AbortController().signal;
    for (const part of plan.parts) {
      assert.equal(part.place.type, 'custom');
      if (part.place.type === 'custom') {
        await part.place.place({ part, input: input(part.descriptor), staging, signal, log });
      }
    }
    await plan.finish?.(staging, signal);
  }

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-kind-'));
    layout = umociImage(base, SAMPLE_STEPS);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    manifestDescriptor = index.manifests[0];
  });
  after(() => cleanup());

  it('plans the config then the layers in order, and the placed tree is umoci unpack’s (one layer zstd)', async () => {
    const plan = await new RootfsKind().plan(request(await loadBlob(manifestDescriptor)));
    assert.equal(plan.ordered, true);
    assert.deepEqual(
      plan.parts.map((p) => p.role),
      ['config', 'layer', 'layer', 'layer'],
    );
    assert.equal(plan.output.type, 'tree');
    const zstdOf = (digest: string) =>
      Readable.from([execFileSync('sh', ['-c', `gzip -dc < '${blob(digest)}' | zstd -q -c`])]);
    const first = plan.parts[1]!.descriptor.digest;
    const staging = join(base, `staging${n++}`);
    await runPlan(plan, staging, (d) =>
      d.digest === first ? zstdOf(d.digest) : createReadStream(blob(d.digest)),
    );
    const expected = shapeOf(await listTree(umociUnpack(layout, join(base, 'umoci'))));
    assert.deepEqual(diffShapes(shapeOf(await listTree(staging)), expected), []);
    assert.equal(plan.details?.layers, 3);
    // The runtime settings of the image's own config come back in the details.
    assert.deepEqual(plan.details?.runtime, runtimeSettings((await layoutLayers(layout)).config));
  });

  it('a layer whose uncompressed bytes are not its diff_id is DIGEST_MISMATCH', async () => {
    const plan = await new RootfsKind().plan(request(await loadBlob(manifestDescriptor)));
    const [config, l0, l1] = plan.parts;
    const swapped = { ...plan, parts: [config!, { ...l1!, place: l0!.place }], finish: undefined };
    await assert.rejects(runPlan(swapped, join(base, `staging${n++}`)), (e) => {
      assert.ok(isOcipullError(e, 'DIGEST_MISMATCH'), String(e));
      assert.match((e as Error).message, /diff_id/);
      return true;
    });
  });

  it('with kinds.rootfs.format ext4 the staging path becomes a checked ext4 and no tree is left', async () => {
    const plan = await new RootfsKind().plan(
      request(await loadBlob(manifestDescriptor), { kinds: { rootfs: { format: 'ext4' } } }),
    );
    const area = join(base, `area${n++}`);
    await mkdir(area);
    const staging = join(area, 'out');
    await runPlan(plan, staging);
    assert.ok((await stat(staging)).isFile());
    execFileSync('e2fsck', ['-fn', staging], { stdio: 'pipe' });
    assert.deepEqual(await readdir(area), ['out']);
  });

  it('chooses the platform of an index (aliases and the arm64 v8 default), else NO_MATCHING_PLATFORM listing what exists', async () => {
    const manifest = (platform: Descriptor['platform']) => ({ ...manifestDescriptor, platform });
    const index = {
      schemaVersion: 2 as const,
      manifests: [
        manifest({ os: 'linux', architecture: 'arm', variant: 'v7' }),
        manifest({ os: 'linux', architecture: 'arm64', variant: 'v8' }),
        manifest({ os: 'linux', architecture: 'amd64' }),
      ],
    };
    const bytes = Buffer.from(JSON.stringify(index));
    const root: LoadedDocument = {
      kind: 'index',
      descriptor: {
        mediaType: 'application/vnd.oci.image.index.v1+json',
        digest: digestOf(bytes),
        size: bytes.length,
      },
      index,
      bytes,
    };
    const kind = new RootfsKind();
    assert.equal((await kind.plan(request(root, { arch: 'aarch64' }))).platform.architecture, 'arm64');
    assert.equal((await kind.plan(request(root, { arch: 'x86_64' }))).platform.architecture, 'amd64');
    assert.equal((await kind.plan(request(root, { arch: 'arm' }))).platform.variant, 'v7');
    await assert.rejects(kind.plan(request(root, { arch: 'arm', variant: 'v6' })), (e) =>
      isOcipullError(e, 'NO_MATCHING_PLATFORM'),
    );
    await assert.rejects(kind.plan(request(root, { arch: 's390x' })), (e) => {
      assert.ok(isOcipullError(e, 'NO_MATCHING_PLATFORM'));
      assert.match((e as { hint?: string }).hint ?? '', /linux\/arm\/v7, linux\/arm64\/v8, linux\/amd64/);
      return true;
    });
  });
});

describe('the kind-rootfs plugin', () => {
  it('registers the rootfs kind on an orchestrator', async () => {
    const { Orchestrator } = await import('ocipull');
    const { default: KindRootfsPlugin } = await import('../../plugins/kind-rootfs/index.js');
    const orchestrator = new Orchestrator();
    new KindRootfsPlugin().apply(orchestrator);
    assert.equal(orchestrator.kinds.get('rootfs').name, 'rootfs');
  });
});
