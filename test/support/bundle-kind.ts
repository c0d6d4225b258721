/**
 * A toy artifact kind written as an out-of-tree package would write it: it imports nothing but
 * the public entry (`ocipull`). A "bundle" is one manifest whose layers are named files (each
 * layer titled, compressed or not); it is pulled into a directory holding those files, decoded.
 */
import {
  Annotations,
  type Descriptor,
  isIndexMediaType,
  type Kind,
  type KindPlanRequest,
  type LoadedDocument,
  OcipullError,
  type Orchestrator,
  type Plan,
  type Plugin,
} from 'ocipull';
import { bundleEntryKey, packBundle } from './bundle-kind-pack.js';

export const BUNDLE_ARTIFACT_TYPE = 'application/vnd.example.bundle.v1';

/** The manifest the reference names, or the index's entry of the bundle artifact type. */
async function bundleManifest(
  request: KindPlanRequest,
): Promise<{ descriptor: Descriptor; doc: LoadedDocument }> {
  const { root } = request;
  if (root.kind === 'manifest') return { descriptor: root.descriptor, doc: root };
  const entry = root.index.manifests.find(
    (d) => d.artifactType === BUNDLE_ARTIFACT_TYPE && !isIndexMediaType(d.mediaType),
  );
  if (!entry) {
    throw new OcipullError(
      'NO_MATCHING_DISK',
      `${request.source.reference} lists no ${BUNDLE_ARTIFACT_TYPE} manifest`,
      {
        hint: 'point at a bundle manifest, or an index listing one',
      },
    );
  }
  return { descriptor: entry, doc: await request.load(entry) };
}

export default class BundleKindPlugin implements Plugin {
  readonly name = 'ocipull-plugin-bundle';

  apply(orchestrator: Orchestrator): void {
    // A title `x.bin.zst` names the file `x.bin` once decoded: the codec extensions come from the registry.
    const decodedName = (title: string): string => {
      const dot = title.lastIndexOf('.');
      const ext = dot > 0 ? title.slice(dot + 1).toLowerCase() : '';
      const isCodec = orchestrator.codecs.list().some((c) => c.name !== 'none' && c.extensions.includes(ext));
      return isCodec ? title.slice(0, dot) : title;
    };
    const kind: Kind = {
      name: 'bundle',
      description: 'a bundle of named files, one per layer (an example kind)',
      // The pack half (bundle-kind-pack.ts): the same kind packs what it pulls.
      pack: packBundle,
      entryKey: bundleEntryKey,
      async plan(request: KindPlanRequest): Promise<Plan> {
        const { descriptor, doc } = await bundleManifest(request);
        if (doc.kind !== 'manifest')
          throw new OcipullError('MEDIA_TYPE_UNSUPPORTED', 'a bundle is a manifest');
        const parts = doc.manifest.layers.map((layer, i) => {
          const title = layer.annotations?.[Annotations.title];
          if (!title) {
            throw new OcipullError(
              'ARTIFACT_NO_TITLE',
              `layer ${i} (${layer.digest}) of the bundle has no title`,
            );
          }
          return {
            role: 'file',
            descriptor: layer,
            place: { type: 'file' as const, name: decodedName(title) },
            decode: { unpack: 'blob', codec: 'auto', name: title },
          };
        });
        return {
          kind: 'bundle',
          manifestDescriptor: descriptor,
          manifest: doc.manifest,
          platform: descriptor.platform ?? { os: request.settings.os, architecture: request.settings.arch },
          parts,
          output: { type: 'files' },
          outputName: 'bundle',
          details: { files: parts.map((p) => p.place.name) },
        };
      },
    };
    orchestrator.kinds.register(kind);
  }
}
