/**
 * Hostile manifests, indexes, layers and references, pulled end to end from OCI layouts: each is
 * refused with its code and nothing appears at (or beside) the output path.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import {
  Annotations,
  type Descriptor,
  EMPTY_DESCRIPTOR,
  type ErrorCode,
  LayoutStore,
  type LoadedDocument,
  MediaTypes,
  parseDocument,
  type Settings,
} from 'ocipull';
import { runCli } from '../support/cli.js';
import { prngBytes } from '../support/files.js';
import { repoRoot, tempDir } from '../support/paths.js';
import { ran } from './figures.js';
import { type DiskLayoutOptions, diskLayout, orchestratorWith, rejectsWith, snapshot } from './support.js';

const compress = (tool: string, args: string[], input: Buffer) =>
  execFileSync(tool, args, { input, maxBuffer: 1 << 30 });
const zeros = (mib: number) => Buffer.alloc(mib << 20);
/** Zeros behind qcow2's magic: a disk of the format its title claims, all but empty. */
const qcow2Zeros = (mib: number) => {
  const disk = zeros(mib);
  disk.write('QFI\xfb', 0, 'latin1');
  return disk;
};
const smallDisk = () => compress('zstd', ['-q', '-c'], prngBytes(64 << 10, 1));

describe('hostile documents, bombs and references are refused', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let n = 0;
  /** Refusals seen since the last `take()`. */
  let tally = 0;
  const take = () => {
    const t = tally;
    tally = 0;
    return t;
  };

  before(async () => {
    tmp = await tempDir('ocipull-hostile-docs-');
  });
  after(async () => tmp.cleanup());

  /** Pull `source` into a fresh sandbox, expect `code`, and check the sandbox is untouched. */
  async function refused(
    make: (layoutDir: string) => Promise<string>,
    code: ErrorCode,
    settings: Partial<Settings> = {},
  ): Promise<string> {
    const sandbox = join(tmp.dir, `case-${++n}`);
    await fsp.mkdir(join(sandbox, 'out'), { recursive: true });
    const source = await make(join(sandbox, 'layout'));
    const beforeTree = await snapshot(sandbox, ['layout']);
    const orchestrator = await orchestratorWith({ cacheDir: join(sandbox, 'cache'), ...settings });
    const error = await rejectsWith(
      orchestrator.pull({ source, output: join(sandbox, 'out', 'disk.qcow2') }),
      code,
    );
    assert.deepEqual(await snapshot(sandbox, ['layout']), beforeTree, 'nothing written in the sandbox');
    tally++;
    assert.ok(error.message.length < 2000, `a short message, not the hostile input: ${error.message.length}`);
    return error.message;
  }
  const layout = (options: Partial<DiskLayoutOptions>) => async (dir: string) =>
    (await diskLayout(dir, { layer: smallDisk(), ...options })).source;

  it('doc.huge-manifest: a 5 MiB manifest (MANIFEST_TOO_LARGE), also when its descriptor lies', async () => {
    const padding = { 'org.example.padding': 'x'.repeat(5 << 20) };
    const huge = (layer: Descriptor) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          config: EMPTY_DESCRIPTOR,
          layers: [layer],
          annotations: padding,
        }),
      );
    await refused(layout({ manifestBytes: huge }), 'MANIFEST_TOO_LARGE');
    // The descriptor claims 600 bytes: the file's real size gives it away before it is read.
    await refused(
      layout({ manifestBytes: huge, manifestDescriptor: (d) => ({ ...d, size: 600 }) }),
      'SIZE_MISMATCH',
    );
    ran('doc.huge-manifest', { refused: take() });
  });

  it('doc.huge-index: a 5 MiB index.json (MANIFEST_TOO_LARGE), not read into memory', async () => {
    await refused(async (dir) => {
      const built = await diskLayout(dir, { layer: smallDisk() });
      const index = JSON.parse(await fsp.readFile(join(dir, 'index.json'), 'utf8'));
      index.annotations = { 'org.example.padding': 'y'.repeat(5 << 20) };
      await fsp.writeFile(join(dir, 'index.json'), JSON.stringify(index));
      return built.source;
    }, 'MANIFEST_TOO_LARGE');
    ran('doc.huge-index', { refused: take() });
  });

  it('doc.deep: indexes nested 8 deep (INDEX_TOO_DEEP)', async () => {
    let deep = '';
    await refused(async (dir) => {
      const built = await diskLayout(dir, { layer: smallDisk() });
      const store = await LayoutStore.open(dir);
      let entry: Descriptor = (await store.readIndex()).manifests[0]!;
      for (let depth = 0; depth < 8; depth++) {
        const nested = await store.putJson(
          { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [entry] },
          MediaTypes.ociIndex,
        );
        entry = nested;
      }
      await store.setIndex({
        schemaVersion: 2,
        manifests: [{ ...entry, annotations: { [Annotations.refName]: 'latest' } }],
      });
      deep = built.source;
      return built.source;
    }, 'INDEX_TOO_DEEP');
    // inspect walks the same way: refused, not a silently shorter listing.
    const inspect = await runCli(['inspect', deep, '--json']);
    assert.notEqual(inspect.code, 0, inspect.stdout);
    assert.equal(JSON.parse(inspect.stdout).error.code, 'INDEX_TOO_DEEP', inspect.stdout);
    tally++;
    ran('doc.deep', { refused: take() });
  });

  it('doc.self-reference: an index naming itself is caught by its digest, and by the walk when digests are not checked', async () => {
    // Content addressing makes a true self-reference impossible: forge one (the blob stored under
    // a digest it does not hash to, listing that digest again).
    await refused(async (dir) => {
      const built = await diskLayout(dir, { layer: smallDisk() });
      const fake = `sha256:${'ab'.repeat(32)}`;
      let size = 0;
      let bytes = Buffer.alloc(0);
      for (let i = 0; i < 5; i++) {
        bytes = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: MediaTypes.ociIndex,
            manifests: [{ mediaType: MediaTypes.ociIndex, digest: fake, size }],
          }),
        );
        size = bytes.length;
      }
      await fsp.writeFile(join(dir, 'blobs', 'sha256', 'ab'.repeat(32)), bytes);
      const store = await LayoutStore.open(dir);
      await store.setIndex({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: MediaTypes.ociIndex,
            digest: fake,
            size,
            annotations: { [Annotations.refName]: 'latest' },
          },
        ],
      });
      return built.source;
    }, 'DIGEST_MISMATCH');
    // The selector's own guard, given a loader that would return the same index forever.
    const walk = (await import(
      pathToFileURL(join(repoRoot, 'dist', 'plugins', 'disk-select', 'walk.js')).href
    )) as {
      findDisk(
        root: LoadedDocument,
        o: { load(d: Descriptor): Promise<LoadedDocument>; accept(): boolean; maxDepth: number },
      ): Promise<unknown>;
    };
    const self = `sha256:${'cd'.repeat(32)}`;
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [{ mediaType: MediaTypes.ociIndex, digest: self, size: 10 }],
      }),
    );
    const doc = parseDocument(bytes, { mediaType: MediaTypes.ociIndex, digest: self, size: bytes.length });
    await rejectsWith(
      walk.findDisk(doc, { load: async () => doc, accept: () => false, maxDepth: 100 }),
      'INDEX_TOO_DEEP',
    );
    tally++;
    ran('doc.self-reference', { refused: take() });
  });

  it('doc.media-types: wrong media types (MANIFEST_INVALID, MEDIA_TYPE_UNSUPPORTED)', async () => {
    // The manifest says it is an index; its descriptor says manifest.
    await refused(
      layout({
        manifestBytes: (layer) =>
          Buffer.from(
            JSON.stringify({
              schemaVersion: 2,
              mediaType: MediaTypes.ociIndex,
              config: EMPTY_DESCRIPTOR,
              layers: [layer],
            }),
          ),
      }),
      'MANIFEST_INVALID',
    );
    // A disk entry whose descriptor claims an unknown document type.
    await refused(
      layout({
        manifestBytes: (layer) =>
          Buffer.from(
            JSON.stringify({ schemaVersion: 2, config: EMPTY_DESCRIPTOR, layers: [layer] }).replace(
              '"layers"',
              '"strata"',
            ),
          ),
        manifestDescriptor: (d) => ({ ...d, mediaType: 'text/html' }),
      }),
      'MEDIA_TYPE_UNSUPPORTED',
    );
    ran('doc.media-types', { refused: take() });
  });

  it('doc.duplicate-keys: a manifest and an index.json with a key twice (MANIFEST_INVALID, LAYOUT_INDEX_INVALID)', async () => {
    const message = await refused(
      layout({
        manifestBytes: (layer) => {
          const evil = { ...layer, digest: `sha256:${'ee'.repeat(32)}` };
          const text = JSON.stringify({
            schemaVersion: 2,
            mediaType: MediaTypes.ociManifest,
            config: EMPTY_DESCRIPTOR,
            layers: [layer],
          });
          return Buffer.from(text.replace(/}$/, `,"layers":${JSON.stringify([evil])}}`));
        },
      }),
      'MANIFEST_INVALID',
    );
    assert.match(message, /"layers" appears twice/);
    await refused(async (dir) => {
      const built = await diskLayout(dir, { layer: smallDisk() });
      const text = await fsp.readFile(join(dir, 'index.json'), 'utf8');
      await fsp.writeFile(join(dir, 'index.json'), text.replace(/}$/, ',"schemaVersion":2}'));
      return built.source;
    }, 'LAYOUT_INDEX_INVALID');
    ran('doc.duplicate-keys', { refused: take() });
  });

  it('doc.wrong-sizes: layer and manifest descriptors with wrong or impossible sizes', async () => {
    await refused(layout({ layerDescriptor: (d) => ({ ...d, size: d.size - 1 }) }), 'SIZE_MISMATCH');
    await refused(layout({ layerDescriptor: (d) => ({ ...d, size: d.size + 1 }) }), 'SIZE_MISMATCH');
    await refused(layout({ layerDescriptor: (d) => ({ ...d, size: -1 }) }), 'MANIFEST_INVALID');
    await refused(layout({ layerDescriptor: (d) => ({ ...d, size: 2 ** 60 }) }), 'MANIFEST_INVALID');
    await refused(layout({ manifestDescriptor: (d) => ({ ...d, size: d.size + 7 }) }), 'SIZE_MISMATCH');
    ran('doc.wrong-sizes', { refused: take() });
  });

  // The bombs start with qcow2's magic, as their titles claim: the disk-format check must not be
  // what refuses them (which of two refusals lands first is a race; only the limit is tested here).
  const bombs: { codec: string; title: string; make: () => Buffer; env?: string }[] = [
    { codec: 'zstd', title: 'zst', make: () => compress('zstd', ['-q', '-c'], qcow2Zeros(64)) },
    {
      codec: 'zstd',
      title: 'zst',
      make: () => compress('zstd', ['-q', '-c'], qcow2Zeros(64)),
      env: 'inprocess',
    },
    { codec: 'xz', title: 'xz', make: () => compress('xz', ['-c', '-1'], qcow2Zeros(64)) },
    { codec: 'gzip', title: 'gz', make: () => gzipSync(qcow2Zeros(64), { level: 9 }) },
    { codec: 'bzip2', title: 'bz2', make: () => compress('bzip2', ['-c'], qcow2Zeros(64)) },
  ];
  it('bomb.configured: 64 MiB of zeros in every codec against maxExpansionRatio 10 (EXPANSION_LIMIT)', async () => {
    for (const bomb of bombs) {
      const previous = process.env.OCIPULL_CODEC_MODE;
      if (bomb.env) process.env.OCIPULL_CODEC_MODE = bomb.env;
      try {
        await refused(
          layout({ layer: bomb.make(), title: `podman-machine.x86_64.qemu.qcow2.${bomb.title}` }),
          'EXPANSION_LIMIT',
          {
            maxExpansionRatio: 10,
          },
        );
      } finally {
        if (previous === undefined) delete process.env.OCIPULL_CODEC_MODE;
        else process.env.OCIPULL_CODEC_MODE = previous;
      }
    }
    ran('bomb.configured', { refused: take() });
  });

  it('bomb.default: 1 GiB of zeros in 33 KiB of zstd is refused by the default limit', async () => {
    const layer = execFileSync(
      'sh',
      ['-c', "{ printf 'QFI\\373'; head -c 1073741820 /dev/zero; } | zstd -q -c"],
      {
        maxBuffer: 1 << 24,
      },
    );
    assert.ok(layer.length < 64 << 10, `the bomb is small (${layer.length} bytes)`);
    await refused(layout({ layer }), 'EXPANSION_LIMIT');
    ran('bomb.default', { refused: take() });
  });

  const controls = ['\u0000', '\u0007', '\u001b[2J', '\n', '\u007f'];
  it('ref.control-characters: oci-dir and docker references with control characters (REFERENCE_INVALID)', async () => {
    let count = 0;
    const orchestrator = await orchestratorWith({ cacheDir: join(tmp.dir, 'cache') }, [
      'oci-dir',
      'registry',
      'disk-select',
      'codec-none',
    ]);
    for (const c of controls) {
      for (const source of [
        `oci-dir:${tmp.dir}/lay${c}out:latest`,
        `docker://127.0.0.1:9/podman/machine${c}os:5.5`,
        `docker://127.0.0.1:9/podman/machine-os:5.5${c}`,
      ]) {
        await rejectsWith(
          orchestrator.pull({ source, output: join(tmp.dir, 'never.qcow2') }),
          'REFERENCE_INVALID',
        );
        count++;
      }
    }
    // Through the CLI: exit 2, and the terminal gets the characters escaped, never raw.
    const cli = await runCli([
      'pull',
      'docker://127.0.0.1:9/podman/machine-os:5.5\u001b[2J\u0007',
      '-o',
      join(tmp.dir, 'never.qcow2'),
    ]);
    count++;
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(cli.stderr, /REFERENCE_INVALID/);
    assert.doesNotMatch(
      cli.stderr,
      /[\u0000-\u0008\u000b-\u001f\u007f]/,
      'no raw control character reaches stderr',
    );
    ran('ref.control-characters', { refused: count });
  });
});
