import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { printable } from 'ocipull';
import { addConfigOptions, type CliContext, type CommonFlags } from '../context.js';

const DURATION_UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/** `30d`, `12h`, `90m`, `45s`, `2w`. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected a duration such as 30d, 12h, 90m, 45s or 2w');
  return Number(match[1]) * DURATION_UNITS[match[2]!]!;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function registerCache(program: Command, context: CliContext): void {
  const cache = program
    .command('cache')
    .summary('list, prune and export the blob cache')
    .description('Manage the cache of verified blobs (see docs/cache.md).');

  const ls = cache.command('ls').summary('list cached disks').option('--json', 'print JSON');
  addConfigOptions(ls).option('--cache-dir <dir>', 'cache directory');
  ls.action(async (flags: CommonFlags) => {
    context.json = Boolean(flags.json);
    const { ocipull } = await context.setup(flags);
    const { dir, entries } = await ocipull.cache.ls();
    if (flags.json) {
      context.out(`${JSON.stringify({ dir, entries })}\n`);
      return;
    }
    if (entries.length === 0) {
      context.out(`cache ${dir} is empty\n`);
      return;
    }
    const rows = entries.map((e) => [
      e.digest.slice(0, 19),
      e.title ?? '-',
      formatBytes(e.size),
      e.lastUsed?.replace('T', ' ').slice(0, 19) ?? '-',
      e.source ?? '-',
    ]);
    // Titles and sources come from images: escaped before they are measured and printed.
    for (const row of rows) row.splice(0, row.length, ...row.map((cell) => printable(cell)));
    const header = ['DIGEST', 'TITLE', 'SIZE', 'LAST USED', 'SOURCE'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
    context.out(`${[line(header), ...rows.map(line)].join('\n')}\n`);
  });

  const prune = cache
    .command('prune')
    .summary('remove entries and stale partial downloads')
    .description(
      'Without flags: apply the lru size limit (if configured), drop partial downloads untouched for 7 days and orphaned files.\n' +
        '--older-than: also entries not used for that long; --all: everything not in use right now.',
    )
    .option('--all', 'remove every entry and partial download')
    .option(
      '--older-than <duration>',
      'remove entries and partials unused for DURATION (30d, 12h, 90m)',
      parseDuration,
    )
    .option('--json', 'print JSON');
  addConfigOptions(prune).option('--cache-dir <dir>', 'cache directory');
  prune.action(async (flags: CommonFlags & { all?: boolean; olderThan?: number }) => {
    context.json = Boolean(flags.json);
    const { ocipull } = await context.setup(flags);
    const result = await ocipull.cache.prune({
      all: flags.all,
      olderThanMs: flags.olderThan,
    });
    if (flags.json) context.out(`${JSON.stringify(result)}\n`);
    else {
      context.out(
        `removed ${result.entries.length} entr${result.entries.length === 1 ? 'y' : 'ies'} and ${result.partials} partial download${result.partials === 1 ? '' : 's'}, freed ${formatBytes(result.bytes)}\n`,
      );
    }
  });

  const exporter = cache
    .command('export')
    .summary('copy a cached image into an OCI layout (for air-gapped hosts)')
    .description(
      'Write the documents and cached disks of SOURCE (a reference pulled before) into the layout DEST, tagged with\n' +
        "DEST's tag or SOURCE's; `ocipull pull oci-dir:PATH:TAG` then works with no network.",
    )
    .argument('<source>', 'TRANSPORT:REFERENCE pulled before')
    .argument('<dest>', 'oci-dir:PATH[:TAG]')
    .option('--json', 'print JSON');
  addConfigOptions(exporter).option('--cache-dir <dir>', 'cache directory');
  exporter.action(async (raw: string, destination: string, flags: CommonFlags) => {
    context.json = Boolean(flags.json);
    const { ocipull } = await context.setup(flags);
    const result = await ocipull.cache.export({ source: raw, destination, signal: context.signal });
    const { disks, bytes } = result;
    if (flags.json) context.out(`${JSON.stringify(result)}\n`);
    else
      context.out(
        `exported ${disks} disk${disks === 1 ? '' : 's'} (${formatBytes(bytes)}) of ${result.source} to ${result.destination}\n`,
      );
  });
}
