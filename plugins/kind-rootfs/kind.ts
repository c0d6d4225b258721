/**
 * The `rootfs` artifact kind: an image's layers applied in order into a tree (docs/rootfs.md).
 * The plan is ordered custom parts: the config first (its diff_ids and runtime settings), then
 * each layer, decoded and applied into the staging tree while its uncompressed bytes are hashed
 * against the config's diff_id. `finish` closes the rootless record and writes the tar / ext4 /
 * erofs output when one is asked (`kinds.rootfs.format`).
 */
import { rename, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Kind,
  type KindDescribeRequest,
  type KindEntry,
  type KindPackRequest,
  type KindPlanRequest,
  type Logger,
  MAX_DOCUMENT_BYTES,
  OcipullError,
  type Orchestrator,
  type PackEntry,
  type PackedEntry,
  type Part,
  type PlaceRequest,
  type Plan,
  readAll,
} from 'ocipull';
import { applyLayer, type LayerStats } from './apply/apply.js';
import { Budget } from './apply/limits.js';
import { RecordWriter, recordPathFor } from './apply/record.js';
import { decodeLayer, hashing } from './decode.js';
import { describeRootfs } from './describe.js';
import { checkDistributable } from './distributable.js';
import { KIND_DESCRIPTION, KIND_NAME } from './facts.js';
import { type RootfsOptions, rootfsOptions } from './options.js';
import { treeToErofs, treeToExt4 } from './output/disk.js';
import { treeToTar } from './output/tar.js';
import { packRootfs, rootfsPackResult } from './pack.js';
import { chooseManifest } from './platform.js';
import { type RuntimeSettings, runtimeSettings } from './runtime.js';

export { KIND_NAME } from './facts.js';

/** An image config larger than this is refused (the documents' own limit). */
const CONFIG_LIMIT = MAX_DOCUMENT_BYTES;
/** The rootless record beside the tree (`TREE.rootfs-record.jsonl`), committed with it. */
export const RECORD_SUFFIX = recordPathFor('');
/** The file name extension of each file format (the output name inside `-o DIR/`). */
const EXTENSIONS = { tree: '', tar: '.tar', ext4: '.ext4', erofs: '.erofs' } as const;

export { type RootfsSettings, rootfsOptions } from './options.js';

/** What one pull of the kind accumulates while its parts are placed. */
class RootfsRun {
  diffIds: string[] = [];
  runtime?: RuntimeSettings;
  readonly layers: LayerStats[] = [];
  private record?: RecordWriter;
  private readonly budget: Budget;
  private readonly asRoot: boolean;

  constructor(
    readonly options: RootfsOptions,
    readonly details: Record<string, unknown>,
    private readonly log: Logger,
  ) {
    this.budget = new Budget(options.limits);
    this.asRoot = options.asRoot ?? process.getuid?.() === 0;
    details.rootless = !this.asRoot;
    details.layers = 0;
  }

  async placeConfig(request: PlaceRequest): Promise<void> {
    const config = JSON.parse(
      (await readAll(request.input, CONFIG_LIMIT, 'the image config')).toString('utf8'),
    ) as {
      rootfs?: { diff_ids?: unknown };
    };
    const ids = config.rootfs?.diff_ids;
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) {
      throw new OcipullError(
        'MANIFEST_INVALID',
        'the image config has no rootfs.diff_ids (an array of digests)',
        {
          hint: 'an image config (application/vnd.oci.image.config.v1+json) lists the uncompressed layer digests',
        },
      );
    }
    this.diffIds = ids as string[];
    this.runtime = runtimeSettings(config);
    this.details.runtime = this.runtime;
  }

  async placeLayer(index: number, request: PlaceRequest): Promise<void> {
    const expected = this.diffIds[index];
    if (expected === undefined) {
      throw new OcipullError('MANIFEST_INVALID', `layer ${index} has no diff_id in the image config`);
    }
    if (!this.asRoot) this.record ??= new RecordWriter(recordPathFor(request.staging));
    const hash = hashing();
    const decoded: Readable = await decodeLayer(request.input);
    const feeding = pipeline(decoded, hash, { signal: request.signal }).catch((error: unknown) => {
      hash.destroy(error as Error);
    });
    const stats = await applyLayer(hash, request.staging, {
      asRoot: this.asRoot,
      record: this.record,
      budget: this.budget,
      label: `layer ${index} (${request.part.descriptor.digest})`,
      log: request.log,
      signal: request.signal,
    });
    await feeding;
    const actual = hash.digest();
    if (actual !== expected) {
      throw new OcipullError(
        'DIGEST_MISMATCH',
        `layer ${index} (${request.part.descriptor.digest}) uncompressed is ${actual}, the config's diff_id says ${expected}`,
        { hint: 'the layer and the config disagree: the image is corrupt or was altered' },
      );
    }
    this.layers.push(stats);
    this.details.layers = this.layers.length;
  }

  /**
   * Close the record; for a file format, make it from the tree beside the staging directory, then
   * put it where the tree was (the tree and its record go: the file carries what they said).
   */
  async finish(staging: string, signal: AbortSignal): Promise<void> {
    await this.record?.close();
    const format = this.options.format;
    if (format === 'tree') return;
    const out = `${staging}.out`;
    const recordPath = recordPathFor(staging);
    const log = this.log;
    if (format === 'tar') await treeToTar(staging, out, { recordPath, signal, log });
    else if (format === 'ext4')
      await treeToExt4(staging, out, { recordPath, size: this.options.size, signal, log });
    else await treeToErofs(staging, out, { recordPath, size: this.options.size, signal, log });
    try {
      await rm(staging, { recursive: true, force: true });
      await rm(recordPath, { force: true });
      await rename(out, staging);
    } catch (error) {
      await rm(out, { force: true });
      throw error;
    }
  }
}

export class RootfsKind implements Kind {
  readonly name = KIND_NAME;
  readonly description = KIND_DESCRIPTION;
  /** `-o DIR` is the tree itself, an existing one replaced with --replace. */
  readonly outputIsPath = true;

  /** A reference without tag means `latest` (the machine-os version tag is the disk kind's). */
  defaultTag(): string {
    return 'latest';
  }

  /** `orchestrator`: the one the plugin registered the kind on (pack finds the tree exporter there). */
  constructor(private readonly orchestrator?: Orchestrator) {}

  /** `inspect --kind rootfs`: the images the source holds, with platforms, layers and sizes. */
  describe(request: KindDescribeRequest): Promise<KindEntry[]> {
    return describeRootfs(request);
  }

  pack(request: KindPackRequest): Promise<PackEntry[]> {
    return packRootfs(this.orchestrator, request);
  }

  packResult(packed: PackedEntry[]): Record<string, unknown> {
    return rootfsPackResult(packed);
  }

  async plan(request: KindPlanRequest): Promise<Plan> {
    // Flags and settings that cannot apply fail before anything is fetched.
    const options = rootfsOptions(request.settings);
    const { descriptor, document } = await chooseManifest(request);
    const { manifest } = document;
    for (const [i, layer] of manifest.layers.entries()) checkDistributable(layer, i, options.allowUrls);
    const details: Record<string, unknown> = { format: options.format };
    const run = new RootfsRun(options, details, request.log);
    const config: Part = {
      role: 'config',
      descriptor: manifest.config,
      place: { type: 'custom', place: (r) => run.placeConfig(r) },
      decode: { unpack: 'blob', codec: 'none' },
    };
    const layers: Part[] = manifest.layers.map((layer, i) => ({
      role: 'layer',
      descriptor: layer,
      place: { type: 'custom', place: (r) => run.placeLayer(i, r) },
      decode: { unpack: 'tar', codec: 'auto' },
    }));
    const platform = descriptor.platform ?? {
      os: request.settings.os,
      architecture: request.settings.arch,
      ...(request.settings.variant ? { variant: request.settings.variant } : {}),
    };
    return {
      kind: KIND_NAME,
      manifestDescriptor: descriptor,
      manifest,
      platform,
      parts: [config, ...layers],
      output: { type: 'tree', file: options.format !== 'tree' },
      ordered: true,
      outputName: `rootfs-${platform.architecture}${platform.variant ? `-${platform.variant}` : ''}${EXTENSIONS[options.format]}`,
      details,
      companions: [RECORD_SUFFIX],
      finish: (staging, signal) => run.finish(staging, signal),
    };
  }
}
