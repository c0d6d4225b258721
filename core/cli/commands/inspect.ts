import type { Command } from 'commander';
import { OcipullError, toOcipullError } from '../../errors/errors.js';
import { printable } from '../../log.js';
import { Annotations, isIndexMediaType, MediaTypes } from '../../oci/media-types.js';
import { sameArch } from '../../oci/platform.js';
import type { Orchestrator } from '../../orchestrator.js';
import { openPullSource } from '../../pipeline/offline.js';
import { majorMinor } from '../../pipeline/pull.js';
import type { Descriptor, LoadedDocument, Source } from '../../types.js';
import {
  addConfigOptions,
  addPlatformOptions,
  addTransportOptions,
  type CliContext,
  type CommonFlags,
  platformFrom,
} from '../context.js';

/** Keep the entries of the platform asked for (any part not asked for matches). */
function onlyPlatform(report: InspectReport, want: { os?: string; arch?: string; variant?: string }) {
  const keep = (e: EntryReport) =>
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

/** One index entry as `inspect` reports it. */
interface EntryReport {
  digest: string;
  platform: { os?: string; architecture?: string; variant?: string };
  /** Present on disk entries only. */
  diskType?: string;
  title?: string;
  /** Disks: the layer (download) size; container images: config + layers. */
  size?: number;
  /** Disks: the layer's media type; container images: the manifest's. */
  mediaType: string;
  layerDigest?: string;
  layers?: number;
  /** The index that lists this entry (differs from the root's when indexes nest). */
  index: string;
  error?: { code: string; message: string };
}

interface InspectReport {
  source: string;
  digest: string;
  mediaType: string;
  disks: EntryReport[];
  containerImages: EntryReport[];
}

const MAX_DEPTH = 4;

async function describeEntry(
  orchestrator: Orchestrator,
  source: Source,
  entry: Descriptor,
  index: string,
  signal: AbortSignal,
  isRoot = false,
) {
  const diskType = entry.annotations?.[Annotations.diskType];
  const report: EntryReport = {
    digest: entry.digest,
    platform: {
      os: entry.platform?.os,
      architecture: entry.platform?.architecture,
      variant: entry.platform?.variant,
    },
    ...(diskType === undefined ? {} : { diskType }),
    mediaType: entry.mediaType,
    index,
  };
  try {
    const doc = await orchestrator.load(source, entry, signal);
    if (doc.kind === 'manifest') {
      const layers = doc.manifest.layers;
      report.layers = layers.length;
      // A lone artifact manifest (what `copy` of one disk writes) is a disk without an index
      // entry: its disktype is the hypervisor its title names (`podman-machine.<arch>.<hv>.…`).
      const artifact =
        diskType === undefined &&
        isRoot &&
        layers.length === 1 &&
        doc.manifest.config.mediaType === MediaTypes.ociEmpty;
      if (artifact) {
        const title = layers[0]!.annotations?.[Annotations.title];
        report.diskType = /^podman-machine\.[^.]+\.([^.]+)\./.exec(title ?? '')?.[1] ?? '-';
      }
      if (report.diskType !== undefined) {
        const layer = layers[0];
        report.title = layer?.annotations?.[Annotations.title];
        report.size = layer?.size;
        report.mediaType = layer?.mediaType ?? entry.mediaType;
        report.layerDigest = layer?.digest;
      } else {
        report.size = layers.reduce((sum, l) => sum + l.size, doc.manifest.config.size);
      }
    }
  } catch (error) {
    const e = toOcipullError(error);
    report.error = { code: e.code, message: e.message };
  }
  return report;
}

export async function inspectSource(
  orchestrator: Orchestrator,
  raw: string,
  signal: AbortSignal,
): Promise<InspectReport> {
  const settings = orchestrator.settings;
  const transport = {
    ...settings.transport,
    defaultTag: settings.transport.defaultTag ?? majorMinor(settings.machineOsVersion),
  };
  // As for pull: --offline (or an unreachable source) is answered from the cache.
  const { source } = await openPullSource(orchestrator, raw, transport, signal);
  try {
    const root = await orchestrator.load(source, source.root!, signal);
    const report: InspectReport = {
      source: source.reference,
      digest: root.descriptor.digest,
      mediaType: root.descriptor.mediaType,
      disks: [],
      containerImages: [],
    };
    const add = (entry: EntryReport) =>
      (entry.diskType === undefined ? report.containerImages : report.disks).push(entry);
    // Same limits as disk selection: deeper nesting or a cycle is INDEX_TOO_DEEP, never a silently
    // shorter listing. An index two entries share is listed once.
    const seen = new Set<string>();
    const visiting = new Set<string>();
    const walk = async (doc: LoadedDocument, depth: number): Promise<void> => {
      if (doc.kind === 'manifest') {
        add(await describeEntry(orchestrator, source, doc.descriptor, doc.descriptor.digest, signal, true));
        return;
      }
      if (depth > MAX_DEPTH) {
        throw new OcipullError(
          'INDEX_TOO_DEEP',
          `indexes nest more than ${MAX_DEPTH} levels deep at ${doc.descriptor.digest}`,
          { hint: `inspect follows nested indexes up to ${MAX_DEPTH} levels, as pull does` },
        );
      }
      seen.add(doc.descriptor.digest);
      visiting.add(doc.descriptor.digest);
      for (const entry of doc.index.manifests) {
        if (isIndexMediaType(entry.mediaType) && entry.annotations?.[Annotations.diskType] === undefined) {
          if (visiting.has(entry.digest)) {
            throw new OcipullError(
              'INDEX_TOO_DEEP',
              `index ${doc.descriptor.digest} refers back to ${entry.digest}`,
            );
          }
          if (seen.has(entry.digest)) continue;
          await walk(await orchestrator.load(source, entry, signal), depth + 1);
        } else {
          add(await describeEntry(orchestrator, source, entry, doc.descriptor.digest, signal));
        }
      }
      visiting.delete(doc.descriptor.digest);
    };
    await walk(root, 0);
    return report;
  } finally {
    await source.close?.();
  }
}

function humanSize(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function platformOf(e: EntryReport): string {
  const p = e.platform;
  if (!p.os && !p.architecture) return '-';
  return [p.os ?? '?', p.architecture ?? '?', ...(p.variant ? [p.variant] : [])].join('/');
}

/** Columns padded to width; every cell escaped first (an annotation cannot forge a line). */
export function table(header: string[], cells: string[][]): string[] {
  const rows = cells.map((row) => row.map((cell) => printable(cell)));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)];
}

export function formatInspect(report: InspectReport): string {
  const lines = [
    printable(report.source),
    `  ${printable(report.mediaType)} ${printable(report.digest)}`,
    '',
  ];
  const note = (e: EntryReport) => (e.error ? ` (${e.error.code}: ${e.error.message})` : '');
  lines.push(`Disks (${report.disks.length}):`);
  if (report.disks.length) {
    const rows = report.disks.map((e) => [
      e.diskType ?? '-',
      platformOf(e),
      e.title ?? '(no title)',
      humanSize(e.size),
      e.mediaType,
      e.digest + note(e),
    ]);
    lines.push(
      ...table(['DISKTYPE', 'PLATFORM', 'TITLE', 'SIZE', 'MEDIA TYPE', 'DIGEST'], rows).map((l) => `  ${l}`),
    );
  }
  lines.push('', `Container images (${report.containerImages.length}, never pulled as disks):`);
  if (report.containerImages.length) {
    const rows = report.containerImages.map((e) => [
      platformOf(e),
      humanSize(e.size),
      e.mediaType,
      e.digest + note(e),
    ]);
    lines.push(...table(['PLATFORM', 'SIZE', 'MEDIA TYPE', 'DIGEST'], rows).map((l) => `  ${l}`));
  }
  return `${lines.join('\n')}\n`;
}

export function registerInspect(program: Command, context: CliContext): void {
  const command = program
    .command('inspect')
    .summary('list the disks and images an index offers')
    .description(
      'Show the entries of an OCI index (registry or layout): for each disk its disktype, platform, title, size, media type and digest; container-image entries are listed apart.\n' +
        'SOURCE is TRANSPORT:REFERENCE; without it the configured default source is inspected.',
    )
    .argument('[source]', 'TRANSPORT:REFERENCE to inspect');
  addConfigOptions(command);
  addPlatformOptions(command, 'list');
  addTransportOptions(command);
  command
    .option('--json', 'print one JSON object on stdout')
    .action(async (raw: string | undefined, flags: CommonFlags) => {
      context.json = Boolean(flags.json);
      const platform = platformFrom(flags);
      // inspect lists every platform unless asked: the host's arch is no filter here.
      const { orchestrator } = await context.setup({
        ...flags,
        arch: undefined,
        os: undefined,
        platform: undefined,
        overrideArch: undefined,
        overrideOs: undefined,
        overrideVariant: undefined,
      });
      const all = await inspectSource(
        orchestrator,
        raw ?? orchestrator.settings.defaultSource,
        context.signal,
      );
      const report = onlyPlatform(all, platform);
      context.out(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatInspect(report));
    });
}
