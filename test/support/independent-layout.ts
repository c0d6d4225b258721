/**
 * A machine-os OCI layout written without ocipull: `oci-layout`, `index.json`, the nested index,
 * manifests and blobs, with `node:crypto` for the digests and `fs` for the files (image-spec
 * image-layout.md). Used to prove ocipull reads what it did not write, and as input for skopeo.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

export interface IndependentDiskInput {
  diskType: string;
  /** `uname -m` naming, as machine-os uses. */
  arch: string;
  /** The layer's bytes (already compressed as `mediaType` says). */
  bytes: Buffer;
  mediaType: string;
  title: string;
}

export interface IndependentLayout {
  layoutDir: string;
  tag: string;
  indexDigest: string;
  disks: { diskType: string; arch: string; manifestDigest: string; blobDigest: string; blobSize: number }[];
}

const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export async function writeIndependentLayout(
  layoutDir: string,
  tag: string,
  disks: IndependentDiskInput[],
): Promise<IndependentLayout> {
  const blobs = join(layoutDir, 'blobs', 'sha256');
  await fsp.mkdir(blobs, { recursive: true });
  const put = async (bytes: Buffer) => {
    const digest = digestOf(bytes);
    await fsp.writeFile(join(blobs, digest.slice(7)), bytes);
    return { digest, size: bytes.length };
  };
  const config = await put(Buffer.from('{}'));
  const entries: object[] = [];
  const out: IndependentLayout['disks'] = [];
  for (const disk of disks) {
    const layer = await put(disk.bytes);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', ...config },
        layers: [
          {
            mediaType: disk.mediaType,
            ...layer,
            annotations: { 'org.opencontainers.image.title': disk.title },
          },
        ],
      }),
    );
    const m = await put(manifest);
    entries.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...m,
      annotations: { disktype: disk.diskType },
      platform: { architecture: disk.arch, os: 'linux' },
    });
    out.push({
      diskType: disk.diskType,
      arch: disk.arch,
      manifestDigest: m.digest,
      blobDigest: layer.digest,
      blobSize: layer.size,
    });
  }
  const index = await put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: entries,
      }),
    ),
  );
  await fsp.writeFile(join(layoutDir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await fsp.writeFile(
    join(layoutDir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.index.v1+json',
          ...index,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return { layoutDir, tag, indexDigest: index.digest, disks: out };
}
