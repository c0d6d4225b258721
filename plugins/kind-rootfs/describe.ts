/**
 * `inspect --kind rootfs`: one entry per container image the source holds (an index's manifests,
 * nested indexes walked once each, or the manifest itself), with its platform, layers and sizes.
 */
import {
  type Descriptor,
  isIndexMediaType,
  isManifestMediaType,
  type KindDescribeRequest,
  type KindEntry,
  type LoadedDocument,
} from 'ocipull';

/** Nested indexes deeper than this are not walked (as the plan's platform search). */
const MAX_DEPTH = 8;

function entryOf(descriptor: Descriptor, document: Extract<LoadedDocument, { kind: 'manifest' }>): KindEntry {
  const { manifest } = document;
  const layers = manifest.layers ?? [];
  return {
    manifestDigest: descriptor.digest,
    ...(descriptor.platform ? { platform: descriptor.platform } : {}),
    facts: {
      mediaType: manifest.mediaType ?? descriptor.mediaType,
      config: manifest.config.digest,
      layers: layers.length,
      layerMediaTypes: [...new Set(layers.map((l) => l.mediaType))],
      size: layers.reduce((sum, l) => sum + l.size, 0),
    },
  };
}

export async function describeRootfs(request: KindDescribeRequest): Promise<KindEntry[]> {
  const found: KindEntry[] = [];
  const walked = new Set<string>();
  async function walk(descriptor: Descriptor, document: LoadedDocument, depth: number): Promise<void> {
    if (document.kind === 'manifest') {
      found.push(entryOf(descriptor, document));
      return;
    }
    if (walked.has(document.descriptor.digest) || depth > MAX_DEPTH) return;
    walked.add(document.descriptor.digest);
    for (const entry of document.index.manifests) {
      // Attestations and other artifacts an index lists beside the images are not images.
      if (entry.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') continue;
      if (!isManifestMediaType(entry.mediaType) && !isIndexMediaType(entry.mediaType)) continue;
      await walk(entry, await request.load(entry), depth + 1);
    }
  }
  await walk(request.root.descriptor, request.root, 0);
  return found;
}
