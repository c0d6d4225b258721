/**
 * `pack`: turn a kind's inputs into an index at a destination. The kind (`--kind`, default the
 * `kind` setting; the disk kind for machine-os) checks its inputs and answers with entries: per
 * manifest its layers, config, platform and annotations. Per entry the core stages each layer
 * (compress while hashing), uploads it (a layer that is a base image's blob is mounted or copied
 * as it is, base.ts), pushes the config and the manifest (OCI, or Docker v2s2 when the kind asks)
 * by digest; a work directory the kind may ask for is removed at the end. Last the
 * index under the tag, merged with what the tag held by the strategy every kind shares (`same
 * target` is the kind's `entryKey`). Until that last push the tag is untouched, so a failure
 * never leaves it half-published.
 */
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { codecsOf } from '../builtin-codecs.js';
import type { CodecRegistry } from '../codecs.js';
import { isOcipullError, OcipullError, wrapPluginError } from '../errors/errors.js';
import type { Kind, PackEntry, PackedEntry, PackLayer } from '../kinds/types.js';
import { checkTag } from '../layout/read.js';
import { digestOf } from '../oci/digest.js';
import { Annotations, EMPTY_DESCRIPTOR, MediaTypes } from '../oci/media-types.js';
import { checkArchitecture, unameArch } from '../oci/platform.js';
import type { Orchestrator } from '../orchestrator.js';
import type { Descriptor, ImageManifest, Logger, Platform, TransportOptions } from '../types.js';
import { PackBases } from './base.js';
import { openDestination } from './destination.js';
import type { PackCodec } from './machine-os.js';
import { type MergeStrategy, mergeIndex, platformKey } from './merge.js';
import { type StagedBlob, stageBlob } from './stage.js';
import { bufferBody, Transfer, type TransferStats } from './transfer.js';

export interface PackDisk {
  /** The hypervisor (`disktype`): qemu, applehv, hyperv, wsl, ... */
  hypervisor: string;
  path: string;
  /** Layer title; default `podman-machine.<arch>.<hypervisor>.<format>.<codec>`. */
  title?: string;
}

export interface PackRequest {
  /** `oci-dir:DIR[:TAG]` or `docker://REGISTRY/REPO[:TAG]`. */
  destination: string;
  /** The artifact kind that packs (default: the `kind` setting, `disk`). */
  kind?: string;
  /** The kind's inputs (see its docs); `disks` and `compress` below are added to them. */
  inputs?: Record<string, unknown>;
  /** The disk kind's input: one disk per hypervisor. */
  disks?: PackDisk[];
  /** Either naming; written in `uname -m` naming (x86_64, aarch64). Default: this host. */
  arch?: string;
  os?: string;
  /** Codec for uncompressed inputs (default zstd); an already compressed input must match it. */
  compress?: PackCodec;
  /** Overrides the destination reference's tag; default `latest`. */
  tag?: string;
  strategy?: MergeStrategy;
  transport?: TransportOptions;
  signal?: AbortSignal;
}

export interface PackedDisk {
  hypervisor: string;
  platform: { os: string; architecture: string };
  title: string;
  codec: PackCodec;
  mediaType: string;
  manifestDigest: string;
  blobDigest: string;
  blobSize: number;
}

export interface PackResult {
  destination: string;
  tag: string;
  indexDigest: string;
  indexSize: number;
  /** The kind that packed. */
  kind: string;
  /** The disk kind's disks (empty for other kinds). */
  disks: PackedDisk[];
  /** Entries of the earlier index that were replaced / kept. */
  replaced: number;
  kept: number;
  blobs: TransferStats;
  /** Every kind's manifests as published, in the order the kind returned them. */
  entries: PackedEntry[];
}

/**
 * Built-in kinds that pack on an orchestrator no plugin registered them on (a bare `new
 * Orchestrator()` packed disks before kinds existed, and still does). Loaded, not registered.
 */
const BUILTIN_PACK_KINDS: Record<string, { module: string; exported: string }> = {
  disk: { module: '../../plugins/disk-select/kind.js', exported: 'diskKind' },
};

async function packingKind(
  orchestrator: Orchestrator,
  name: string,
): Promise<Kind & Required<Pick<Kind, 'pack'>>> {
  const builtin = BUILTIN_PACK_KINDS[name];
  const kind =
    !orchestrator.kinds.has(name) && builtin
      ? ((await import(new URL(builtin.module, import.meta.url).href)) as Record<string, Kind>)[
          builtin.exported
        ]!
      : orchestrator.kinds.get(name);
  if (!kind.pack) {
    throw new OcipullError('UNSUPPORTED', `the ${name} kind cannot pack`, {
      hint: `kinds that pack: ${orchestrator.kinds
        .list()
        .filter((k) => k.pack)
        .map((k) => k.name)
        .join(', ')}`,
    });
  }
  return kind as Kind & Required<Pick<Kind, 'pack'>>;
}

/** A layer's name in messages: its file, else its title. */
function layerName(layer: PackLayer, n: number): string {
  return (
    layer.path ??
    layer.annotations?.[Annotations.title] ??
    (layer.blob ? `${layer.from} layer ${layer.blob.digest}` : `layer ${n + 1}`)
  );
}

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const MANIFEST_TYPES = [MediaTypes.ociManifest, DOCKER_MANIFEST];

/** Every layer must name its bytes and a codec the core can compress with (or publish as is). */
function checkEntries(kind: string, entries: PackEntry[], codecs: CodecRegistry): void {
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new OcipullError('PACK_INPUT_INVALID', `the ${kind} kind found nothing to pack`, {
      hint: 'check the inputs given to pack',
    });
  }
  for (const entry of entries) {
    if (!Array.isArray(entry.layers)) {
      throw new OcipullError('PLUGIN_INVALID', `the ${kind} kind returned an entry without layers`);
    }
    const manifestType = entry.manifestMediaType ?? MediaTypes.ociManifest;
    if (!MANIFEST_TYPES.includes(manifestType)) {
      throw new OcipullError('PLUGIN_INVALID', `the ${kind} kind asked for a ${manifestType} manifest`, {
        hint: `a pack publishes ${MANIFEST_TYPES.join(' or ')}`,
      });
    }
    if (
      manifestType === DOCKER_MANIFEST &&
      (entry.artifactType !== undefined || entry.manifestAnnotations !== undefined || !entry.config)
    ) {
      throw new OcipullError(
        'PLUGIN_INVALID',
        `the ${kind} kind asked for a Docker v2s2 manifest with an artifactType, annotations or no config`,
        { hint: 'a v2s2 manifest carries an image config and layers only' },
      );
    }
    for (const [n, layer] of entry.layers.entries()) {
      if (layer.blob !== undefined) {
        if (typeof layer.from !== 'string') {
          throw new OcipullError(
            'PLUGIN_INVALID',
            `the ${kind} kind returned ${layerName(layer, n)}: an existing blob without the source it is in (from)`,
          );
        }
        continue;
      }
      if (typeof layer.path !== 'string' && typeof layer.open !== 'function') {
        throw new OcipullError(
          'PLUGIN_INVALID',
          `the ${kind} kind returned ${layerName(layer, n)} with neither a path nor open()`,
        );
      }
      if (!layer.asIs && layer.codec !== 'none' && !codecs.get(layer.codec)?.encoder) {
        throw new OcipullError(
          'PACK_INPUT_INVALID',
          `${layerName(layer, n)}: --compress ${layer.codec} is not supported`,
          { hint: `choose one of ${compressors(codecs).join(', ')}` },
        );
      }
    }
  }
}

/** Stage one layer: a file as it is, bytes from `open()` written to a temp file first. */
async function stageLayer(
  kind: string,
  layer: PackLayer,
  codecs: CodecRegistry,
  stagingDir: string | undefined,
  signal: AbortSignal,
): Promise<StagedBlob> {
  const codec = layer.asIs || layer.codec === 'none' ? undefined : codecs.get(layer.codec);
  if (layer.path !== undefined) return stageBlob(layer.path, layer.mediaType, { codec, stagingDir, signal });
  const dir = await fsp.mkdtemp(join(stagingDir ?? tmpdir(), '.tmp-pack-input-'));
  try {
    const input = join(dir, 'input');
    const bytes = await layer.open!().catch((error: unknown) => {
      throw isOcipullError(error) ? error : wrapPluginError(error, `kind ${kind}`, 'pack');
    });
    await pipeline(bytes, (await fsp.open(input, 'wx', 0o600)).createWriteStream(), { signal });
    // Published from the temp input (hashed as is) or from a blob staged from it; both go after.
    const staged = await stageBlob(input, layer.mediaType, { codec, stagingDir, signal });
    return {
      ...staged,
      cleanup: async () => {
        await staged.cleanup();
        await fsp.rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await fsp.rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The codecs `--compress` may name: those whose record has an encoder. */
export function compressors(codecs: CodecRegistry): string[] {
  return codecs.encoders().map((c) => c.name);
}

/** The manifest of one entry, serialized as it is pushed. */
function entryManifest(entry: PackEntry, config: Descriptor, layers: Descriptor[]): Buffer {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: entry.manifestMediaType ?? MediaTypes.ociManifest,
    ...(entry.artifactType !== undefined && { artifactType: entry.artifactType }),
    config,
    layers,
    ...(entry.manifestAnnotations !== undefined && { annotations: entry.manifestAnnotations }),
  };
  return Buffer.from(JSON.stringify(manifest));
}

/** Publish one entry's layers and manifest; answers what the index lists and the result says. */
async function publishEntry(
  kind: string,
  codecs: CodecRegistry,
  entry: PackEntry,
  config: Descriptor,
  transfer: Transfer,
  bases: PackBases,
  stagingDir: string | undefined,
  signal: AbortSignal,
  log: Logger,
): Promise<{ descriptor: Descriptor; packed: PackedEntry }> {
  const layers: Descriptor[] = [];
  for (const [n, layer] of entry.layers.entries()) {
    if (layer.blob) {
      // A base's layer: its bytes and digest as they are, mounted when the registry can.
      const { mediaType, digest, size } = layer.blob;
      const source = await bases.source(layer.from!);
      await transfer.blob({ mediaType, digest, size }, () => bases.body(source, layer.blob!), source);
      layers.push({
        mediaType: layer.mediaType,
        digest,
        size,
        ...(layer.blob.urls !== undefined && { urls: layer.blob.urls }),
        ...(layer.annotations !== undefined && { annotations: layer.annotations }),
      });
      continue;
    }
    const title = layer.annotations?.[Annotations.title];
    log.info(
      `${layerName(layer, n)}: ${layer.asIs ? 'hashing' : `compressing with ${layer.codec}`}` +
        (title !== undefined ? ` as ${title}` : ''),
    );
    const staged = await stageLayer(kind, layer, codecs, stagingDir, signal);
    try {
      await transfer.blob(staged.descriptor, () => staged.body);
    } finally {
      await staged.cleanup();
    }
    layers.push({
      mediaType: staged.descriptor.mediaType,
      digest: staged.descriptor.digest,
      size: staged.descriptor.size,
      ...(layer.annotations !== undefined && { annotations: layer.annotations }),
    });
  }
  const manifestType = entry.manifestMediaType ?? MediaTypes.ociManifest;
  const manifest = await transfer.manifest(entryManifest(entry, config, layers), manifestType);
  const descriptor: Descriptor = {
    mediaType: manifestType,
    digest: manifest.digest,
    size: manifest.size,
    ...(entry.artifactType !== undefined && { artifactType: entry.artifactType }),
    ...(entry.annotations !== undefined && { annotations: entry.annotations }),
    platform: entry.platform,
  };
  const packed: PackedEntry = {
    platform: entry.platform,
    ...(entry.annotations !== undefined && { annotations: entry.annotations }),
    manifestDigest: manifest.digest,
    manifestSize: manifest.size,
    config,
    layers,
    codecs: entry.layers.map((l) => l.codec),
    ...(entry.layers.some((l) => l.diffId !== undefined) && {
      diffIds: entry.layers.map((l) => l.diffId ?? ''),
    }),
    manifestMediaType: manifestType,
    facts: entry.facts ?? {},
  };
  return { descriptor, packed };
}

export async function runPack(orchestrator: Orchestrator, request: PackRequest): Promise<PackResult> {
  const signal = request.signal ?? new AbortController().signal;
  const strategy = request.strategy ?? 'merge';
  const os = request.os ?? 'linux';
  const arch = request.arch ?? orchestrator.settings.arch;
  checkArchitecture(arch, '--arch', 'PACK_INPUT_INVALID');
  const kind = await packingKind(orchestrator, request.kind ?? orchestrator.settings.kind);
  const inputs: Record<string, unknown> = { ...request.inputs };
  if (request.disks !== undefined) inputs.disks = request.disks;
  if (request.compress !== undefined) inputs.compress = request.compress;
  const transport = request.transport ?? orchestrator.settings.transport;
  const codecs = await codecsOf(orchestrator);
  let work: Promise<string> | undefined;
  const workDir = () => {
    work ??= fsp.mkdtemp(join(tmpdir(), 'ocipull-pack-'));
    return work;
  };
  const bases = new PackBases(orchestrator, transport, workDir, signal);
  try {
    return await packWith(orchestrator, request, kind, inputs, codecs, transport, workDir, bases, {
      platform: { architecture: unameArch(arch), os },
      strategy,
      signal,
    });
  } finally {
    await bases.close();
    if (work) await fsp.rm(await work.catch(() => ''), { recursive: true, force: true }).catch(() => {});
  }
}

async function packWith(
  orchestrator: Orchestrator,
  request: PackRequest,
  kind: Kind & Required<Pick<Kind, 'pack'>>,
  inputs: Record<string, unknown>,
  codecs: CodecRegistry,
  transport: TransportOptions,
  workDir: () => Promise<string>,
  bases: PackBases,
  run: { platform: Platform; strategy: MergeStrategy; signal: AbortSignal },
): Promise<PackResult> {
  const { strategy, signal } = run;
  const log = orchestrator.log;
  const entries = await kind
    .pack({
      inputs,
      codecs,
      platform: run.platform,
      settings: orchestrator.settings,
      transport,
      workDir,
      base: (reference, options) => bases.open(reference, options),
      signal,
      log,
    })
    .catch((error: unknown) => {
      // A kind's own typed errors pass as they are; anything else names the kind.
      throw isOcipullError(error) ? error : wrapPluginError(error, `kind ${kind.name}`, 'pack');
    });
  checkEntries(kind.name, entries, codecs);
  if (request.tag !== undefined) checkTag(request.tag);

  const dest = await openDestination(orchestrator, request.destination, transport, signal);
  try {
    const tag = checkTag(request.tag ?? dest.tag ?? 'latest');
    const where = `${dest.reference.replace(/:[^:/@]+$/, '')}:${tag}`;
    if (!dest.readTag && strategy !== 'overwrite') {
      // Merging needs the index now under the tag, and so does refusing a conflict: guessing
      // would replace a published index.
      throw new OcipullError(
        'UNSUPPORTED',
        `${dest.scheme}: this transport cannot read existing tags, so --${strategy} cannot see what ${where} holds now`,
        { hint: 'pass --overwrite to replace whatever the tag holds' },
      );
    }
    const existing = await dest.readTag?.(tag, signal);
    if (existing) mergeIndex(existing, [], strategy === 'exit-on-conflict' ? strategy : 'overwrite', where);
    const stagingDir = await dest.stagingDir?.();
    const transfer = new Transfer(dest, signal, log);
    // Configs first (small, in memory; the empty one for artifacts), then each entry's layers.
    const configs: Descriptor[] = [];
    for (const entry of entries) {
      if (!entry.config) {
        configs.push({ ...EMPTY_DESCRIPTOR });
        await transfer.blob(EMPTY_DESCRIPTOR, () => bufferBody(Buffer.from('{}')));
        continue;
      }
      const { mediaType, bytes } = entry.config;
      const config = { mediaType, digest: digestOf(bytes), size: bytes.length };
      configs.push(config);
      await transfer.blob(config, () => bufferBody(bytes));
    }

    const descriptors: Descriptor[] = [];
    const packed: PackedEntry[] = [];
    for (const [n, entry] of entries.entries()) {
      const published = await publishEntry(
        kind.name,
        codecs,
        entry,
        configs[n]!,
        transfer,
        bases,
        stagingDir,
        signal,
        log,
      );
      descriptors.push(published.descriptor);
      packed.push(published.packed);
    }

    const merged = mergeIndex(existing, descriptors, strategy, where, kind.entryKey ?? platformKey);
    const indexBytes = Buffer.from(JSON.stringify(merged.index));
    const index = await transfer.manifest(indexBytes, MediaTypes.ociIndex, tag);
    log.info(
      `${where}: index ${index.digest} with ${merged.index.manifests.length} entries` +
        (existing ? ` (${merged.replaced.length} replaced, ${merged.kept.length} kept)` : ''),
    );
    return {
      destination: dest.reference,
      tag,
      indexDigest: index.digest,
      indexSize: index.size,
      kind: kind.name,
      disks: [],
      ...kind.packResult?.(packed),
      replaced: merged.replaced.length,
      kept: merged.kept.length,
      blobs: transfer.stats,
      entries: packed,
    };
  } finally {
    await dest.close?.();
  }
}
