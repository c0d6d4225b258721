/**
 * Variants of a umoci layout for the CLI suites, made by rewriting its documents: the same blobs
 * under a new manifest (new layer media types and urls, a config with a wrong diff_id), or a
 * Docker schema 1 manifest as the tag's root.
 */
import { createHash } from 'node:crypto';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

type Json = Record<string, unknown> & { mediaType?: string };

const blobPath = (layout: string, digest: string) => join(layout, 'blobs', ...digest.split(':'));

async function putBlob(layout: string, bytes: Buffer): Promise<{ digest: string; size: number }> {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await writeFile(blobPath(layout, digest), bytes);
  return { digest, size: bytes.length };
}

/** The tag's manifest and config, parsed. */
export async function readImage(layout: string, tag = 'test'): Promise<{ manifest: Json; config: Json }> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
  const entry = index.manifests.find(
    (m: Json & { annotations?: Record<string, string> }) =>
      m.annotations?.['org.opencontainers.image.ref.name'] === tag,
  );
  const manifest = JSON.parse(await readFile(blobPath(layout, entry.digest), 'utf8'));
  const config = JSON.parse(await readFile(blobPath(layout, manifest.config.digest), 'utf8'));
  return { manifest, config };
}

/** Point the tag at `root` (a document of `mediaType`), the other entries kept. */
async function retag(layout: string, tag: string, root: Buffer, mediaType: string): Promise<void> {
  const { digest, size } = await putBlob(layout, root);
  const indexPath = join(layout, 'index.json');
  const index = JSON.parse(await readFile(indexPath, 'utf8'));
  index.manifests = [
    ...index.manifests.filter(
      (m: { annotations?: Record<string, string> }) =>
        m.annotations?.['org.opencontainers.image.ref.name'] !== tag,
    ),
    { mediaType, digest, size, annotations: { 'org.opencontainers.image.ref.name': tag } },
  ];
  await writeFile(indexPath, JSON.stringify(index));
}

/** A copy of `layout` at `to` whose tag's manifest and config are what `edit` makes of them. */
export async function variant(
  layout: string,
  to: string,
  edit: (image: { manifest: Json; config: Json }) => void,
  tag = 'test',
): Promise<string> {
  await cp(layout, to, { recursive: true });
  const image = await readImage(to, tag);
  edit(image);
  const config = await putBlob(to, Buffer.from(JSON.stringify(image.config)));
  image.manifest.config = { ...(image.manifest.config as Json), ...config };
  await retag(
    to,
    tag,
    Buffer.from(JSON.stringify(image.manifest)),
    'application/vnd.oci.image.manifest.v1+json',
  );
  return to;
}

/** A copy of `layout` at `to` whose tag is a Docker schema 1 (signed) manifest. */
export async function schema1Variant(layout: string, to: string, tag = 'test'): Promise<string> {
  await cp(layout, to, { recursive: true });
  const { manifest } = await readImage(to, tag);
  const layers = manifest.layers as { digest: string }[];
  const doc = {
    schemaVersion: 1,
    name: 'test/image',
    tag,
    architecture: 'amd64',
    fsLayers: layers.map((l) => ({ blobSum: l.digest })).reverse(),
    history: layers.map(() => ({ v1Compatibility: '{}' })),
    signatures: [],
  };
  await retag(
    to,
    tag,
    Buffer.from(JSON.stringify(doc)),
    'application/vnd.docker.distribution.manifest.v1+prettyjws',
  );
  return to;
}
