/**
 * `inspect`: open a source (the cache answers when offline or unreachable, as for pull), load its
 * root and ask the chosen kind to describe what it finds. The disk kind's entries are grouped as
 * the CLI prints them: disks, and the container images beside them that are never pulled.
 */
import { OcipullError } from './errors/errors.js';
import { sameArch } from './oci/platform.js';
import type { Orchestrator } from './orchestrator.js';
import { openPullSource } from './pipeline/offline.js';

/** One entry of an inspected index, as the kind described it (the disk kind: see docs/library.md). */
export interface InspectEntry {
  digest: string;
  platform: { os?: string; architecture?: string; variant?: string };
  diskType?: string;
  title?: string;
  size?: number;
  mediaType: string;
  layerDigest?: string;
  layers?: number;
  index: string;
  error?: { code: string; message: string };
  [fact: string]: unknown;
}

export interface InspectReport {
  source: string;
  digest: string;
  mediaType: string;
  disks: InspectEntry[];
  containerImages: InspectEntry[];
  /** Another kind than `disk`: its name and what it described (facts per entry). */
  kind?: string;
  entries?: import('./kinds/types.js').KindEntry[];
}

export interface InspectRequest {
  /** TRANSPORT:REFERENCE; the configured default source when absent. */
  source?: string;
  /** Keep the entries of this platform only (any part not given matches). */
  platform?: { os?: string; arch?: string; variant?: string };
  signal?: AbortSignal;
}

/** Keep the entries of the platform asked for (any part not asked for matches). */
function onlyPlatform(report: InspectReport, want: NonNullable<InspectRequest['platform']>): InspectReport {
  const keep = (e: InspectEntry) =>
    (want.os === undefined || e.platform.os === want.os) &&
    (want.arch === undefined ||
      (e.platform.architecture !== undefined && sameArch(e.platform.architecture, want.arch))) &&
    (want.variant === undefined || e.platform.variant === want.variant);
  return {
    ...report,
    disks: report.disks.filter(keep),
    containerImages: report.containerImages.filter(keep),
  };
}

export async function inspectSource(
  orchestrator: Orchestrator,
  request: InspectRequest = {},
): Promise<InspectReport> {
  const signal = request.signal ?? new AbortController().signal;
  const settings = orchestrator.settings;
  const kind = orchestrator.kinds.get(settings.kind ?? 'disk');
  const transport = {
    ...settings.transport,
    defaultTag: settings.transport.defaultTag ?? kind.defaultTag?.(settings) ?? 'latest',
  };
  const raw = request.source ?? settings.defaultSource;
  const { source } = await openPullSource(orchestrator, raw, transport, signal);
  try {
    const root = await orchestrator.load(source, source.root!, signal);
    if (!kind.describe) {
      throw new OcipullError(
        'UNSUPPORTED',
        `the artifact kind ${kind.name} cannot describe what a source holds`,
      );
    }
    const entries = await kind.describe({
      source,
      root,
      load: (descriptor) => orchestrator.load(source, descriptor, signal),
      signal,
      log: orchestrator.log,
    });
    const report: InspectReport = {
      source: source.reference,
      digest: root.descriptor.digest,
      mediaType: root.descriptor.mediaType,
      disks: [],
      containerImages: [],
    };
    if (kind.name !== 'disk') return { ...report, kind: kind.name, entries };
    for (const { facts } of entries) {
      const entry = facts as InspectEntry;
      (entry.diskType === undefined ? report.containerImages : report.disks).push(entry);
    }
    return request.platform ? onlyPlatform(report, request.platform) : report;
  } finally {
    await source.close?.();
  }
}
