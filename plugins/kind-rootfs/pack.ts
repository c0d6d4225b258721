/**
 * `pack --rootfs DIR`: a tree as a container image (docs/publishing.md "Exporting a tree as an
 * image"). Without a base the image is one layer of the whole tree; with `base` it is the base's
 * layers, published as they are (mounted on the same registry), plus one layer of what DIR changes
 * against the base's tree, pulled by this kind into the pack's work directory. The layer, config
 * and manifest come from the tree-layer plugin (`getTreeExporter`); a tree pulled rootless is
 * exported with the owners, modes and devices of its record (`DIR.rootfs-record.jsonl`).
 */
import { lstat } from 'node:fs/promises';
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
  type ManifestFormat,
  parsePlatform,
  relabelLayer,
  type TreeExporter,
  type TreeLayer,
} from '../tree-layer/api.js';
import { invalid, packInputs } from './pack-inputs.js';
import { recordOwners } from './pack-record.js';

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
