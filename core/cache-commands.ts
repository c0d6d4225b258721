/**
 * The cache's commands as library calls: list, prune and export (a cached image into an OCI
 * layout, for air-gapped hosts). The CLI's `ocipull cache ...` prints what these return.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { isOcipullError, OcipullError } from './errors/errors.js';
import { checkTag } from './layout/read.js';
import { LayoutStore } from './layout/store.js';
import { isIndexMediaType } from './oci/media-types.js';
import type { Orchestrator } from './orchestrator.js';
import { majorMinor } from './pipeline/pull.js';
import type {
  BlobCache,
  CachedBlob,
  CacheEntryInfo,
  CachePruneOptions,
  CachePruneResult,
  Descriptor,
  Source,
} from './types.js';

export interface CacheListResult {
  dir: string;
  entries: CacheEntryInfo[];
}

export interface CacheExportRequest {
  /** TRANSPORT:REFERENCE pulled before. */
  source: string;
  /** `oci-dir:PATH[:TAG]` (or `oci:`); the tag defaults to the source's. */
  destination: string;
  signal?: AbortSignal;
}

export interface CacheExportResult {
  source: string;
  destination: string;
  root: string;
  index: boolean;
  disks: number;
  bytes: number;
}

/** The configured cache, or NO_CACHE. */
export async function cacheOf(orchestrator: Orchestrator): Promise<BlobCache> {
  const cache = await orchestrator.getCache();
  if (!cache) {
    throw new OcipullError('NO_CACHE', 'no cache plugin is configured', {
      hint: 'add "cache" to the plugins of your config (the built-in presets include it)',
    });
  }
  return cache;
}

function need<T>(capability: T | undefined, cache: BlobCache, what: string): T {
  if (capability === undefined) {
    throw new OcipullError('UNSUPPORTED', `the configured cache (${cache.dir}) cannot ${what}`);
  }
  return capability;
}

export async function cacheList(orchestrator: Orchestrator): Promise<CacheListResult> {
  const cache = await cacheOf(orchestrator);
  const entries = await need(cache.list, cache, 'list its entries').call(cache);
  return { dir: cache.dir, entries };
}

export async function cachePrune(
  orchestrator: Orchestrator,
  options: CachePruneOptions = {},
): Promise<CachePruneResult> {
  const cache = await cacheOf(orchestrator);
  return need(cache.prune, cache, 'prune').call(cache, options);
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

export async function cacheExport(
  orchestrator: Orchestrator,
  request: CacheExportRequest,
): Promise<CacheExportResult> {
  const raw = request.source;
  const signal = request.signal ?? new AbortController().signal;
  const dest = parseDestination(request.destination);
  const blobs = await cacheOf(orchestrator);
  const settings = orchestrator.settings;
  const defaultTag = settings.transport.defaultTag ?? majorMinor(settings.machineOsVersion);
  const open = need(blobs.openOffline, blobs, 'serve sources offline');
  const source = await open.call(blobs, { requested: raw, defaultTag, reason: 'offline' });
  if (!source?.root) {
    throw new OcipullError('OFFLINE', `${raw} is not in the cache ${blobs.dir}`, {
      hint: `pull it first (ocipull pull ${raw}); ocipull cache ls lists what is cached`,
    });
  }
  const plan = await planExport(orchestrator, blobs, source, signal);
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
  return {
    source: source.reference,
    destination: `oci-dir:${dest.dir}${tag ? `:${tag}` : ''}`,
    root: root.digest,
    index: isIndexMediaType(root.mediaType),
    disks,
    bytes,
  };
}
