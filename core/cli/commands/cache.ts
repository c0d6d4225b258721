import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { isOcipullError, OcipullError } from '../../errors/errors.js';
import { checkTag } from '../../layout/read.js';
import { LayoutStore } from '../../layout/store.js';
import { printable } from '../../log.js';
import { isIndexMediaType } from '../../oci/media-types.js';
import type { Orchestrator } from '../../orchestrator.js';
import { majorMinor } from '../../pipeline/pull.js';
import type { BlobCache, CachedBlob, Descriptor, Source } from '../../types.js';
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

async function cacheOf(
  context: CliContext,
  flags: CommonFlags,
): Promise<{ orchestrator: Orchestrator; cache: BlobCache }> {
  const { orchestrator } = await context.setup(flags);
  const cache = await orchestrator.getCache();
  if (!cache) {
    throw new OcipullError('NO_CACHE', 'no cache plugin is configured', {
      hint: 'add "cache" to the plugins of your config (the built-in presets include it)',
    });
  }
  return { orchestrator, cache };
}

function need<T>(capability: T | undefined, cache: BlobCache, what: string): T {
  if (capability === undefined) {
    throw new OcipullError('UNSUPPORTED', `the configured cache (${cache.dir}) cannot ${what}`);
  }
  return capability;
}

/** `oci-dir:PATH[:TAG]` / `oci:PATH[:TAG]`. */
function parseDestination(raw: string): { dir: string; tag?: string } {
  const match = /^(?:oci-dir|oci):(?:\/\/)?(.+)$/.exec(raw);
  if (!match) {
    throw new OcipullError('REFERENCE_INVALID', `${JSON.stringify(raw)} is not an oci-dir: destination`, {
      hint: 'cache export SOURCE oci-dir:PATH[:TAG]',
    });
  }
  const tagged = /^(.+):([^:/]+)$/.exec(match[1]!);
  return tagged
    ? { dir: resolvePath(tagged[1]!), tag: checkTag(tagged[2]!) }
    : { dir: resolvePath(match[1]!) };
}

/** The tag a reference names (`...machine-os:5.5@sha256:…` → 5.5), if any. */
function tagOf(reference: string): string | undefined {
  const last =
    reference
      .replace(/@[^@]*$/, '')
      .split('/')
      .pop() ?? '';
  const tag = /:([A-Za-z0-9_][A-Za-z0-9._-]{0,127})$/.exec(last)?.[1];
  return tag;
}

/**
 * What the cache holds for `source`: its documents as stored and every cached blob they name.
 * Gathered before anything is written, so an export with nothing to export leaves no layout.
 */
async function planExport(orchestrator: Orchestrator, cache: BlobCache, source: Source, signal: AbortSignal) {
  const documents: Array<{ bytes: Buffer; descriptor: Descriptor }> = [];
  const blobs: Array<{ blob: CachedBlob; descriptor: Descriptor }> = [];
  let disks = 0;
  let bytes = 0;
  const seen = new Set<string>();
  const visit = async (descriptor: Descriptor, depth: number): Promise<void> => {
    if (depth > 8 || seen.has(descriptor.digest)) return;
    seen.add(descriptor.digest);
    let document: Awaited<ReturnType<Orchestrator['load']>>;
    try {
      document = await orchestrator.load(source, descriptor, signal);
    } catch (error) {
      if (depth === 0) throw error;
      return; // a sibling the cache never needed (another platform's manifest)
    }
    documents.push({ bytes: document.bytes, descriptor: document.descriptor });
    if (document.kind === 'index') {
      for (const entry of document.index.manifests) await visit(entry, depth + 1);
      return;
    }
    for (const blob of [document.manifest.config, ...document.manifest.layers]) {
      if (blob.data !== undefined || seen.has(blob.digest)) continue;
      const cached = await cache.peek(blob);
      if (!cached) continue;
      seen.add(blob.digest);
      blobs.push({ blob: cached, descriptor: blob });
      if (blob !== document.manifest.config) {
        disks++;
        bytes += blob.size;
      }
    }
  };
  await visit(source.root!, 0);
  return { documents, blobs, disks, bytes };
}

/** Write a plan into the layout: blobs first, then the documents that name them. */
async function writeExport(store: LayoutStore, plan: Awaited<ReturnType<typeof planExport>>): Promise<void> {
  for (const { blob, descriptor } of plan.blobs) await store.putBlob(blob.open(), descriptor);
  for (const { bytes, descriptor } of plan.documents.reverse()) await store.putBlob(bytes, descriptor);
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
    const { cache: blobs } = await cacheOf(context, flags);
    const entries = await need(blobs.list, blobs, 'list its entries').call(blobs);
    if (flags.json) {
      context.out(`${JSON.stringify({ dir: blobs.dir, entries })}\n`);
      return;
    }
    if (entries.length === 0) {
      context.out(`cache ${blobs.dir} is empty\n`);
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
    const { cache: blobs } = await cacheOf(context, flags);
    const result = await need(blobs.prune, blobs, 'prune').call(blobs, {
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
    const dest = parseDestination(destination);
    const { orchestrator, cache: blobs } = await cacheOf(context, flags);
    const settings = orchestrator.settings;
    const defaultTag = settings.transport.defaultTag ?? majorMinor(settings.machineOsVersion);
    const open = need(blobs.openOffline, blobs, 'serve sources offline');
    const source = await open.call(blobs, { requested: raw, defaultTag, reason: 'offline' });
    if (!source?.root) {
      throw new OcipullError('OFFLINE', `${raw} is not in the cache ${blobs.dir}`, {
        hint: `pull it first (ocipull pull ${raw}); ocipull cache ls lists what is cached`,
      });
    }
    const plan = await planExport(orchestrator, blobs, source, context.signal);
    const { disks, bytes } = plan;
    if (disks === 0) {
      throw new OcipullError('OFFLINE', `no disk of ${source.reference} is in the cache ${blobs.dir}`, {
        hint: `pull it first (ocipull pull ${raw})`,
      });
    }
    const tag = dest.tag ?? tagOf(source.reference);
    const root = { mediaType: source.root.mediaType, digest: source.root.digest, size: source.root.size };
    // A new DEST is staged beside it and renamed at the end: a failed export leaves nothing there.
    const fresh = !(await fsp.access(dest.dir).then(
      () => true,
      () => false,
    ));
    const target = fresh ? `${dest.dir}.ocipull-export-${randomBytes(4).toString('hex')}` : dest.dir;
    try {
      const store = await LayoutStore.init(target);
      try {
        await writeExport(store, plan);
      } catch (error) {
        if (!isOcipullError(error) || !['DIGEST_MISMATCH', 'SIZE_MISMATCH'].includes(error.code)) throw error;
        const bad = plan.blobs.find(({ descriptor }) => error.message.includes(descriptor.digest));
        if (bad) await blobs.evict(bad.descriptor.digest).catch(() => undefined);
        throw new OcipullError(
          'CACHE_CORRUPT',
          `cache ${blobs.dir}: ${bad ? `the cached disk ${bad.descriptor.digest}` : 'a cached blob'} of ${source.reference} failed verification (${error.message}); it was removed and ${fresh ? 'nothing was written at' : 'no tag was added to'} ${dest.dir}`,
          { hint: `pull it again (ocipull pull ${raw}), then export`, cause: error },
        );
      }
      await store.addManifest(root, tag === undefined ? {} : { tag });
      if (fresh) await fsp.rename(target, dest.dir);
    } catch (error) {
      if (fresh) await fsp.rm(target, { recursive: true, force: true });
      throw error;
    }
    const result = {
      source: source.reference,
      destination: `oci-dir:${dest.dir}${tag ? `:${tag}` : ''}`,
      root: root.digest,
      index: isIndexMediaType(root.mediaType),
      disks,
      bytes,
    };
    if (flags.json) context.out(`${JSON.stringify(result)}\n`);
    else
      context.out(
        `exported ${disks} disk${disks === 1 ? '' : 's'} (${formatBytes(bytes)}) of ${result.source} to ${result.destination}\n`,
      );
  });
}
