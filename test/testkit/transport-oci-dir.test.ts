/**
 * The built-in oci-dir transport runs the transport conformance kit against itself, imported by
 * its package export path as a third-party transport would. The content is laid out with plain fs
 * (oci-layout, index.json naming the tag, blobs/sha256/...), not by the transport under test.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Plugin } from 'ocipull';
import { type ConformanceContent, transportConformance } from 'ocipull/testkit/transport';
import { repoRoot, tempDir } from '../support/paths.js';

let dir: string;
let cleanup: (() => Promise<void>) | undefined;
let layouts = 0;

async function writeLayout(content: ConformanceContent): Promise<string> {
  const layout = join(dir, `layout-${++layouts}`);
  await fsp.mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
  await fsp.writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const { descriptor, bytes } of [...content.blobs, ...content.documents]) {
    await fsp.writeFile(join(layout, 'blobs', 'sha256', descriptor.digest.slice('sha256:'.length)), bytes);
  }
  const entry = {
    ...content.index.descriptor,
    annotations: { 'org.opencontainers.image.ref.name': content.tag },
  };
  await fsp.writeFile(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [entry],
    }),
  );
  return layout;
}

transportConformance({
  name: 'oci-dir',
  async setup() {
    ({ dir, cleanup } = await tempDir('ocipull-kit-oci-dir-'));
  },
  async teardown() {
    await cleanup?.();
  },
  async plugins(): Promise<Plugin[]> {
    const url = new URL(`file://${join(repoRoot, 'dist', 'plugins', 'oci-dir', 'index.js')}`).href;
    const { default: OciDir } = (await import(url)) as { default: new () => Plugin };
    return [new OciDir()];
  },
  async publish(content) {
    return `oci-dir:${await writeLayout(content)}:${content.tag}`;
  },
  missing: () => `oci-dir:${join(dir, 'layout-1')}:never-published`,
  destination: () => `oci-dir:${join(dir, 'pushed')}:pushed`,
});
