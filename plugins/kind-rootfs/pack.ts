/**
 * `pack --rootfs DIR`: a tree as a container image (docs/publishing.md "Exporting a tree as an
 * image"). Without a base the image is one layer of the whole tree; with `base` it is the base's
 * layers, published as they are (mounted on the same registry), plus one layer of what DIR changes
 * against the base's tree, pulled by this kind into the pack's work directory. The layer, config
 * and manifest come from the tree-layer plugin (`getTreeExporter`); a tree pulled rootless is
 * exported with the owners, modes and devices of its record (`DIR.rootfs-record.jsonl`).
 */
import { lstat } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  type KindPackRequest,
  normalizeArch,
  OcipullError,
  type Orchestrator,
  type PackBase,
  type PackEntry,
  type PackedEntry,
  type PackLayer,
  type Platform,
} from 'ocipull';
import {
  codecOfLayerType,
  FORMAT_MEDIA_TYPES,
  getTreeExporter,
  LAYER_CODECS,
  type LayerCodec,
  layerMediaType,
  MANIFEST_FORMATS,
  type ManifestFormat,
  type OwnersHook,
  parsePlatform,
  type RuntimeConfig,
  relabelLayer,
  type TreeExporter,
  type TreeLayer,
} from '../tree-layer/index.js';
import { readRecord, recordPathFor } from './apply/record.js';

function invalid(message: string, hint: string): OcipullError {
  return new OcipullError('PACK_INPUT_INVALID', message, { hint });
}

/** One string input (the CLI's `--input NAME=VALUE` gives lists). */
function one(inputs: Record<string, unknown>, name: string): string | undefined {
  const value = inputs[name];
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  if (list.length !== 1 || typeof list[0] !== 'string') {
    throw invalid(`the rootfs kind's ${name} input must be one string`, `give ${name} once`);
  }
  return list[0];
}

function strings(inputs: Record<string, unknown>, name: string): string[] | undefined {
  const value = inputs[name];
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((v) => typeof v === 'string')) {
    throw invalid(`the rootfs kind's ${name} input must be strings`, `give each ${name} as a string`);
  }
  return list as string[];
}

/** `K=V` strings (or an object) → a record; `flag` names the option in messages. */
function keyValues(
  inputs: Record<string, unknown>,
  name: string,
  flag: string,
): Record<string, string> | undefined {
  const value = inputs[name];
  if (value === undefined) return undefined;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
  }
  const out: Record<string, string> = {};
  for (const pair of strings(inputs, name) ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw invalid(`${flag} ${JSON.stringify(pair)} is not KEY=VALUE`, `e.g. ${flag} org.example.a=b`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export interface RootfsPackInputs {
  rootfs: string;
  base?: string;
  platform?: string;
  manifestFormat: ManifestFormat;
  compress: LayerCodec;
  runtime: RuntimeConfig;
  annotations?: Record<string, string>;
  created?: string;
}

/** The inputs checked: what is missing or malformed fails before anything is read or pushed. */
export function packInputs(inputs: Record<string, unknown>): RootfsPackInputs {
  const rootfs = one(inputs, 'rootfs');
  if (!rootfs) {
    throw invalid('the rootfs kind packs a tree: no rootfs input given', 'pass --rootfs DIR');
  }
  const format = one(inputs, 'manifestFormat') ?? 'oci';
  if (!(MANIFEST_FORMATS as readonly string[]).includes(format)) {
    throw invalid(
      `--manifest-format ${JSON.stringify(format)} is not known`,
      `choose one of ${MANIFEST_FORMATS.join(', ')}`,
    );
  }
  const compress = one(inputs, 'compress') ?? 'gzip';
  if (!(LAYER_CODECS as readonly string[]).includes(compress)) {
    throw invalid(
      `--compress ${JSON.stringify(compress)} cannot compress an image layer`,
      `choose one of ${LAYER_CODECS.join(', ')} (default gzip)`,
    );
  }
  // Refused here with the format named (zstd layers exist in OCI manifests only).
  layerMediaType(format as ManifestFormat, compress as LayerCodec);
  const runtime: RuntimeConfig = {};
  const entrypoint = strings(inputs, 'entrypoint');
  if (entrypoint?.length) runtime.Entrypoint = entrypoint;
  const cmd = strings(inputs, 'cmd');
  if (cmd?.length) runtime.Cmd = cmd;
  const env = strings(inputs, 'env');
  if (env?.length) runtime.Env = env;
  const workdir = one(inputs, 'workdir');
  if (workdir !== undefined) runtime.WorkingDir = workdir;
  const user = one(inputs, 'user');
  if (user !== undefined) runtime.User = user;
  const labels = keyValues(inputs, 'labels', '--label');
  if (labels && Object.keys(labels).length > 0) runtime.Labels = labels;
  const annotations = keyValues(inputs, 'annotations', '--annotation');
  const hasAnnotations = annotations !== undefined && Object.keys(annotations).length > 0;
  if (hasAnnotations && format === 'v2s2') {
    throw invalid(
      'a Docker v2s2 manifest has no annotations',
      'use --manifest-format oci for --annotation, or leave them out',
    );
  }
  const epoch = process.env.SOURCE_DATE_EPOCH;
  let created = one(inputs, 'created');
  if (created === undefined && epoch !== undefined && epoch !== '') {
    if (!/^\d+$/.test(epoch))
      throw invalid(
        `SOURCE_DATE_EPOCH ${JSON.stringify(epoch)} is not a number of seconds`,
        'e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)',
      );
    created = new Date(Number(epoch) * 1000).toISOString();
  }
  return {
    rootfs: resolve(rootfs),
    base: one(inputs, 'base'),
    platform: one(inputs, 'platform'),
    manifestFormat: format as ManifestFormat,
    compress: compress as LayerCodec,
    runtime,
    ...(hasAnnotations && { annotations }),
    ...(created !== undefined && { created }),
  };
}

/** The owners hook of a tree's rootless record, and the recorded devices the tree lacks on disk. */
export async function recordOwners(tree: string): Promise<{ owners?: OwnersHook; absent: string[] }> {
  const meta = await readRecord(recordPathFor(tree));
  if (meta.size === 0) return { absent: [] };
  const absent: string[] = [];
  for (const [path, m] of meta) {
    if (m.type !== 'char' && m.type !== 'block') continue;
    const onDisk = await lstat(`${tree}/${path}`).then(
      () => true,
      () => false,
    );
    if (!onDisk) absent.push(path);
  }
  const owners: OwnersHook = (path) => {
    const m = meta.get(path === '.' ? '' : path);
    if (!m) return undefined;
    const device =
      m.type === 'char' || m.type === 'block'
        ? { type: m.type, major: m.rdev?.[0] ?? 0, minor: m.rdev?.[1] ?? 0 }
        : undefined;
    return {
      uid: m.uid,
      gid: m.gid,
      mode: m.mode,
      ...(device && { device }),
      ...(m.mtime !== undefined && { mtime: m.mtime }),
    };
  };
  return { owners, absent };
}

const showPlatform = (p: Platform) => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/** The base's layers as pack layers: the same blobs, relabelled into the manifest format. */
function baseLayers(base: PackBase, format: ManifestFormat): PackLayer[] {
  const diffIds = (JSON.parse(base.config.toString('utf8')) as { rootfs?: { diff_ids?: string[] } }).rootfs
    ?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== base.manifest.layers.length) {
    throw new OcipullError(
      'MANIFEST_INVALID',
      `base ${base.reference}: its config lists ${diffIds?.length ?? 'no'} diff IDs for ${base.manifest.layers.length} layers`,
      { hint: 'the base must be an image whose config names one diff ID per layer' },
    );
  }
  return base.manifest.layers.map((layer, n) => ({
    blob: layer,
    from: base.reference,
    codec: codecOfLayerType(layer.mediaType) ?? 'none',
    asIs: true,
    mediaType: relabelLayer(layer.mediaType, format),
    diffId: diffIds[n],
    ...(format === 'oci' && layer.annotations !== undefined && { annotations: layer.annotations }),
  }));
}

function exporterOf(orchestrator: Orchestrator | undefined): TreeExporter {
  const exporter = orchestrator && getTreeExporter(orchestrator);
  if (!exporter) {
    throw new OcipullError(
      'UNSUPPORTED',
      'pack --rootfs needs the tree-layer plugin, which is not configured',
      {
        hint: 'add "tree-layer" to the plugins of the config (or a preset)',
      },
    );
  }
  return exporter;
}

/** The rootfs kind's `pack`: one image (a manifest and its index entry) for the tree. */
export async function packRootfs(
  orchestrator: Orchestrator | undefined,
  request: KindPackRequest,
): Promise<PackEntry[]> {
  const input = packInputs(request.inputs);
  const exporter = exporterOf(orchestrator);
  const st = await lstat(input.rootfs).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw invalid(`--rootfs ${input.rootfs} is not a directory`, 'pass the root of the tree to export');
  }
  if (!request.workDir)
    throw new OcipullError(
      'UNSUPPORTED',
      'the rootfs kind packs through the core only (it needs a work directory)',
    );
  const work = await request.workDir();
  const platform = input.platform
    ? parsePlatform(input.platform)
    : input.base
      ? undefined
      : { os: request.platform.os, architecture: normalizeArch(request.platform.architecture) };
  let base: PackBase | undefined;
  if (input.base) {
    if (!request.base) throw new OcipullError('UNSUPPORTED', '--base needs the core to open the base image');
    base = await request.base(input.base, platform ? { platform } : {});
  }
  const { owners, absent } = await recordOwners(input.rootfs);
  if (owners) request.log.info(`${input.rootfs}: owners, modes and devices from its rootless record`);
  const options = {
    compress: input.compress,
    format: input.manifestFormat,
    stagingDir: work,
    owners,
    absent,
    signal: request.signal,
  };
  let layer: TreeLayer;
  let facts: Record<string, unknown>;
  let layers: PackLayer[] = [];
  if (base) {
    layers = baseLayers(base, input.manifestFormat);
    const baseRecord = base.record ? await recordOwners(base.tree) : { absent: [] };
    const diff = await exporter.diffLayer(base.tree, input.rootfs, {
      ...options,
      baseOwners: baseRecord.owners,
      baseAbsent: baseRecord.absent,
    });
    layer = diff;
    facts = {
      base: base.reference,
      baseManifest: base.manifestDescriptor.digest,
      added: diff.added,
      changed: diff.changed,
      whiteouts: diff.whiteouts.length,
      opaque: diff.opaque.length,
    };
    request.log.info(
      `${input.rootfs}: ${diff.added} added, ${diff.changed} changed, ${diff.whiteouts.length} whiteouts, ${diff.opaque.length} opaque directories on ${base.reference}`,
    );
  } else {
    layer = await exporter.treeLayer(input.rootfs, options);
    facts = {};
  }
  const config = exporter.buildConfig({
    ...(platform && { platform }),
    ...(base && { base: base.config }),
    runtime: input.runtime,
    layers: [{ diffId: layer.diffId }],
    ...(input.created !== undefined && { created: input.created }),
    format: input.manifestFormat,
  });
  const { config: image } = config;
  const entryPlatform: Platform = {
    os: image.os,
    architecture: image.architecture,
    ...(image.variant !== undefined && { variant: image.variant }),
  };
  request.log.info(
    `${input.rootfs}: layer ${layer.descriptor.digest} (${layer.entries} entries, ${layer.tarSize} bytes as tar) for ${showPlatform(entryPlatform)}`,
  );
  const types = config.descriptor.mediaType;
  return [
    {
      layers: [...layers, { ...layer.packLayer(), diffId: layer.diffId }],
      config: { mediaType: types, bytes: config.bytes },
      manifestMediaType: FORMAT_MEDIA_TYPES[input.manifestFormat].manifest,
      ...(input.annotations && { manifestAnnotations: input.annotations }),
      platform: entryPlatform,
      facts: { ...facts, format: input.manifestFormat, compress: input.compress },
    },
  ];
}

/** The `--json` result's `images`: per manifest its layers (digest, diff ID, size), config and digest. */
export function rootfsPackResult(packed: PackedEntry[]): Record<string, unknown> {
  return {
    images: packed.map((entry) => ({
      platform: entry.platform,
      manifestDigest: entry.manifestDigest,
      manifestMediaType: entry.manifestMediaType,
      config: entry.config,
      layers: entry.layers.map((layer, n) => ({
        mediaType: layer.mediaType,
        digest: layer.digest,
        diffId: entry.diffIds?.[n],
        size: layer.size,
      })),
      ...entry.facts,
    })),
  };
}
