/** OCI layouts of one multi-layer manifest, written by code for the kind tests (test/kinds). */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export interface Layout {
  dir: string;
  /** The blob file of each layer, in manifest order. */
  blobs: string[];
}

/** An OCI layout (image-layout.md) tagged `v1`: an index → one manifest of `artifactType` whose layers are `files`. */
export async function writeLayerLayout(
  dir: string,
  files: { title?: string; bytes: Buffer; mediaType: string }[],
  artifactType: string,
): Promise<Layout> {
  const blobDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  const put = async (bytes: Buffer, mediaType: string, extra: object = {}) => {
    const digest = digestOf(bytes);
    await writeFile(join(blobDir, digest.slice(7)), bytes);
    return { mediaType, digest, size: bytes.length, ...extra };
  };
  const config = await put(Buffer.from('{}'), 'application/vnd.oci.empty.v1+json');
  const layers = [];
  for (const f of files) {
    layers.push(
      await put(f.bytes, f.mediaType, {
        ...(f.title ? { annotations: { 'org.opencontainers.image.title': f.title } } : {}),
      }),
    );
  }
  const manifest = await put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: artifactType,
        config,
        layers,
      }),
    ),
    'application/vnd.oci.image.manifest.v1+json',
    { artifactType: artifactType },
  );
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }],
  };
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  return { dir, blobs: layers.map((l) => join(blobDir, l.digest.slice(7))) } satisfies Layout;
}
