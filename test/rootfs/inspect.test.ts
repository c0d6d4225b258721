/**
 * `inspect --kind rootfs` through the real CLI: every image an index holds (nested indexes
 * walked), with its platform, layer count, layer media types and size; a bare manifest is one.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/paths.js';
import { writeImageLayout } from '../support/rootfs.js';
import { tarOf } from '../support/tar.js';

const INDEX = 'application/vnd.oci.image.index.v1+json';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('inspect --kind rootfs', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  let layout: string;
  const images: Array<{ digest: string; size: number; layers: number }> = [];

  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-rootfs-inspect-'));
    layout = join(base, 'layout');
    const file = (name: string) => tarOf([{ header: { name, type: 'file' }, content: Buffer.from(name) }]);
    for (const layers of [[await file('a')], [await file('b'), await file('c')]]) {
      const written = await writeImageLayout(
        layout,
        layers.map((tar) => ({ tar, compress: 'gzip' as const })),
      );
      const manifest = JSON.parse(await readFile(written.manifest, 'utf8')) as {
        layers: Array<{ size: number }>;
      };
      images.push({
        digest: `sha256:${basename(written.manifest)}`,
        size: (await stat(written.manifest)).size,
        layers: manifest.layers.reduce((sum, l) => sum + l.size, 0),
      });
    }
    const put = async (json: unknown) => {
      const bytes = Buffer.from(JSON.stringify(json));
      const hex = createHash('sha256').update(bytes).digest('hex');
      await writeFile(join(layout, 'blobs', 'sha256', hex), bytes);
      return { mediaType: INDEX, digest: `sha256:${hex}`, size: bytes.length };
    };
    const [amd64, arm64] = images.map((i) => ({ mediaType: MANIFEST, digest: i.digest, size: i.size }));
    // The arm64 image sits in a nested index without a platform (as some publishers write them).
    const nested = await put({
      schemaVersion: 2,
      mediaType: INDEX,
      manifests: [{ ...arm64, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }],
    });
    const top = await put({
      schemaVersion: 2,
      mediaType: INDEX,
      manifests: [{ ...amd64, platform: { os: 'linux', architecture: 'amd64' } }, nested],
    });
    const ref = (name: string) => ({ 'org.opencontainers.image.ref.name': name });
    await writeFile(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          { ...top, annotations: ref('multi') },
          { ...amd64, annotations: ref('single') },
        ],
      }),
    );
  });
  after(() => cleanup());

  const inspect = async (tag: string) => {
    const run = await runCli(['inspect', `oci:${layout}:${tag}`, '--kind', 'rootfs', '--json'], {
      cwd: base,
    });
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout) as {
      kind: string;
      entries: Array<{ manifestDigest: string; platform?: unknown; facts: Record<string, unknown> }>;
    };
  };

  it('an index: each image with its platform, layers and size, the nested one too', async () => {
    const report = await inspect('multi');
    assert.equal(report.kind, 'rootfs');
    assert.deepEqual(
      report.entries.map((e) => [e.manifestDigest, e.platform, e.facts.layers, e.facts.size]),
      [
        [images[0]!.digest, { os: 'linux', architecture: 'amd64' }, 1, images[0]!.layers],
        [images[1]!.digest, { os: 'linux', architecture: 'arm64', variant: 'v8' }, 2, images[1]!.layers],
      ],
    );
    assert.deepEqual(report.entries[0]!.facts.layerMediaTypes, [
      'application/vnd.oci.image.layer.v1.tar+gzip',
    ]);
  });

  it('a bare manifest: one image', async () => {
    const report = await inspect('single');
    assert.deepEqual(
      report.entries.map((e) => [e.manifestDigest, e.facts.layers]),
      [[images[0]!.digest, 1]],
    );
  });
});
