/** Which manifest of an index the rootfs kind takes: the run's platform (the host's by default). */

import type { Descriptor, KindPlanRequest } from 'ocipull';
import {
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

/** Walk nested indexes to the manifest of the wanted platform. */
export async function chooseManifest(
  request: KindPlanRequest,
): Promise<{ descriptor: Descriptor; document: Extract<LoadedDocument, { kind: 'manifest' }> }> {
  const { settings } = request;
  const want = { os: settings.os, arch: settings.arch, variant: settings.variant };
  let document = request.root;
  for (let depth = 0; document.kind === 'index'; depth++) {
    const entries = document.index.manifests;
    const match =
      entries.find((d) => isManifestMediaType(d.mediaType) && platformMatches(d.platform, want)) ??
      entries.find((d) => !isManifestMediaType(d.mediaType) && platformMatches(d.platform, want));
    if (!match || depth > 8) {
      throw new OcipullError(
        'NO_MATCHING_PLATFORM',
        `no image for ${want.os}/${normalizeArch(want.arch)}${want.variant ? `/${want.variant}` : ''} in ${request.source.reference}`,
        {
          hint: `the index has: ${entries.map((d) => show(d.platform)).join(', ') || 'nothing'}; choose one with --platform`,
          data: { available: entries.map((d) => show(d.platform)) },
        },
      );
    }
    document = await request.load(match);
  }
  return { descriptor: document.descriptor, document };
}
