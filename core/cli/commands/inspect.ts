import type { Command } from 'commander';
import { type InspectEntry, type InspectReport, printable } from 'ocipull';
import {
  addConfigOptions,
  addPlatformOptions,
  addTransportOptions,
  type CliContext,
  type CommonFlags,
  platformFrom,
} from '../context.js';

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

function platformOf(e: InspectEntry): string {
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
  if (report.entries) {
    lines.push(`${report.kind} entries (${report.entries.length}):`);
    for (const entry of report.entries) {
      const facts = Object.entries(entry.facts)
        .filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))
        .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
      lines.push(`  ${printable(`${entry.manifestDigest} ${facts.join(' ')}`)}`);
    }
    return `${lines.join('\n')}\n`;
  }
  const note = (e: InspectEntry) => (e.error ? ` (${e.error.code}: ${e.error.message})` : '');
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
    .option('--kind <name>', 'artifact kind that describes the index (default disk; kernel lists targets)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (raw: string | undefined, flags: CommonFlags) => {
      context.json = Boolean(flags.json);
      const platform = platformFrom(flags);
      // inspect lists every platform unless asked: the host's arch is no filter here.
      const { ocipull } = await context.setup({
        ...flags,
        arch: undefined,
        os: undefined,
        platform: undefined,
        overrideArch: undefined,
        overrideOs: undefined,
        overrideVariant: undefined,
      });
      const report = await ocipull.inspect({ source: raw, platform, signal: context.signal });
      context.out(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatInspect(report));
    });
}
