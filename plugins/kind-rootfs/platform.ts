/** Which manifest of an index the rootfs kind takes: the run's platform (the host's by default). */

import type { Descriptor, KindPlanRequest } from 'ocipull';
import {
  isIndexMediaType,
  isManifestMediaType,
  type LoadedDocument,
  normalizeArch,
  OcipullError,
  type Platform,
} from 'ocipull';

/** The variant an architecture means when none is named (containerd's and crane's defaults). */
const DEFAULT_VARIANT: Record<string, string> = { arm64: 'v8', arm: 'v7' };

export function platformMatches(
  entry: Platform | undefined,
  want: { os: string; arch: string; variant?: string },
): boolean {
  if (!entry) return false;
  if (entry.os !== want.os || normalizeArch(entry.architecture) !== normalizeArch(want.arch)) return false;
  const arch = normalizeArch(want.arch);
  const wanted = want.variant ?? DEFAULT_VARIANT[arch];
  const has = entry.variant ?? DEFAULT_VARIANT[arch];
  return wanted === has;
}

const show = (p?: Platform) =>
  p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : '(no platform)';

/** Nested indexes deeper than this are not searched (a hostile source). */
const MAX_DEPTH = 8;

/**
 * Walk nested indexes to the manifest of the wanted platform. An index's own manifests are
 * preferred; then its nested indexes whose platform matches or is not given (an index seldom says
 * one), in order, each searched to its end before the next.
 */
export async function chooseManifest(
  request: KindPlanRequest,
): Promise<{ descriptor: Descriptor; document: Extract<LoadedDocument, { kind: 'manifest' }> }> {
  const { settings } = request;
  const want = { os: settings.os, arch: settings.arch, variant: settings.variant };
  const available: string[] = [];
  // Each index is searched once: indexes listing one nested index many times, level after level,
  // cost one visit each, not a number of visits growing with the power of the depth.
  const searched = new Set<string>();

  async function search(
    document: LoadedDocument,
    depth: number,
  ): Promise<Extract<LoadedDocument, { kind: 'manifest' }> | undefined> {
    if (document.kind === 'manifest') return document;
    if (searched.has(document.descriptor.digest)) return undefined;
    searched.add(document.descriptor.digest);
    const entries = document.index.manifests;
    for (const d of entries) {
      if (!isIndexMediaType(d.mediaType) || d.platform) available.push(show(d.platform));
    }
    const manifest = entries.find(
      (d) => isManifestMediaType(d.mediaType) && platformMatches(d.platform, want),
    );
    if (manifest) return search(await request.load(manifest), depth + 1);
    if (depth >= MAX_DEPTH) return undefined;
    for (const d of entries) {
      if (!isIndexMediaType(d.mediaType) || (d.platform && !platformMatches(d.platform, want))) continue;
      if (searched.has(d.digest)) continue;
      const found = await search(await request.load(d), depth + 1);
      if (found) return found;
    }
    return undefined;
  }

  const document = await search(request.root, 0);
  if (!document) {
    throw new OcipullError(
      'NO_MATCHING_PLATFORM',
      `no image for ${want.os}/${normalizeArch(want.arch)}${want.variant ? `/${want.variant}` : ''} in ${request.source.reference}`,
      {
        hint: `the index has: ${available.join(', ') || 'nothing'}; choose one with --platform`,
        data: { available },
      },
    );
  }
  return { descriptor: document.descriptor, document };
}
