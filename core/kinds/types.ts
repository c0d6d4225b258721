/**
 * Artifact kinds: what a pull takes out of an index and what a pack puts into one.
 *
 * A kind is one record (`orchestrator.kinds.register(kind)`), chosen by `--kind` / the `kind`
 * config key (default `disk`). For a pull it answers with a {@link Plan}: the parts to fetch
 * (each verified, cached and resumable as a whole blob), how each is unpacked and decoded, where
 * it lands, and the shape of the output. The core runs the plan and commits the whole output with
 * one rename. For `pack` it turns its inputs into manifests and index entries; the core stages,
 * uploads and merges them with the strategies every kind shares. See docs/kinds.md.
 */
import type { Readable } from 'node:stream';
import type { Settings } from '../settings.js';
import type {
  Descriptor,
  ImageManifest,
  LoadedDocument,
  Logger,
  Platform,
  Source,
  TransportOptions,
} from '../types.js';

// ---------------------------------------------------------------------------
// pull: choosing and planning
// ---------------------------------------------------------------------------

export interface KindPlanRequest {
  source: Source;
  /** The document the reference points at. */
  root: LoadedDocument;
  /** The run's settings (platform, disk type, format, kind-specific keys under `kinds.<name>`). */
  settings: Readonly<Settings>;
  /** Fetch, verify and parse a nested index or manifest (each one is remembered for offline use). */
  load(descriptor: Descriptor): Promise<LoadedDocument>;
  /**
   * Ask the `select` hook for `key` (the disk kind asks `select.for(diskType)`); fails with the
   * typed "no plugin" error when nothing answers. Kinds that choose by themselves never call it.
   */
  select(key: string): Promise<import('../types.js').Selection>;
  /** The `outputName` setting with its `{key}` placeholders replaced by `values` (unknown ones kept). */
  expandOutputName(values: Record<string, string | undefined>): string;
  /** Fetch and verify a small blob (an image config), refused past `maxBytes` (default 4 MiB). */
  readBlob(descriptor: Descriptor, maxBytes?: number): Promise<Buffer>;
  signal: AbortSignal;
  log: Logger;
}

/** How a part's bytes become what lands in the output. */
export interface PartDecode {
  /** `unpack` hook key: `blob` (the layer is the file), `tar` (a one-file tar), `auto` (sniff). */
  unpack: string;
  /** `auto`: by magic bytes with `name` and the media type as hints; else a codec name (`none`). */
  codec: 'auto' | string;
  /** The file name the layer carries (title), a hint for codec detection. */
  name?: string;
  /** The decoded file must be this disk format (checked on its first bytes and at the end). */
  format?: string;
  /** Write holes for zero runs (undefined: the `sparse` setting, else raw formats only). */
  sparse?: boolean;
}

/** A part placed by the kind itself (tree layers): it gets the verified, still encoded stream. */
export interface PlaceRequest {
  part: Part;
  /** The layer's bytes, verified by the core while they flow (a mismatch fails the run). */
  input: Readable;
  /** The staging directory of a `tree` / `files` output (renamed onto the target at the end). */
  staging: string;
  signal: AbortSignal;
  log: Logger;
}

export interface Part {
  /** What the part is for: `disk`, `kernel`, `initrd`, `layer`, ... (messages, results). */
  role: string;
  descriptor: Descriptor;
  /**
   * Where it lands: `file` decodes into the output file (a `file` output) or into
   * `staging/<name>` (a `files` output); `place` hands the stream to the kind.
   */
  place: { type: 'file'; name?: string } | { type: 'custom'; place(request: PlaceRequest): Promise<void> };
  decode: PartDecode;
}

/** The output a plan produces; each is staged beside the target and committed with one rename. */
export type OutputShape =
  | { type: 'file' }
  /** A directory of named files (`DIR/kernel`, `DIR/initrd`). */
  | { type: 'files' }
  /**
   * A directory tree the kind builds (root filesystems). `file`: `finish` turns it into a file at
   * the staging path (a tar, a disk image), so `--replace` replaces a file, not a directory.
   */
  | { type: 'tree'; file?: boolean };

export interface Plan {
  kind: string;
  /** The chosen manifest's descriptor as its index lists it. */
  manifestDescriptor: Descriptor;
  manifest: ImageManifest;
  platform: Platform;
  parts: Part[];
  output: OutputShape;
  /** `custom` parts are placed in the order listed (layers); others as soon as they arrive. */
  ordered?: boolean;
  /** Name used when `-o` is a directory or absent (disk kind: the `outputName` setting expanded). */
  outputName?: string;
  /** Facts for the result's `details` (title, format, ...). */
  details?: Record<string, unknown>;
  /** The result's and cache records' `diskType` (disk kind: the hypervisor); the kind's name when undefined. */
  diskType?: string;
  /** Run after every part is placed, before the commit (write metadata, turn a tree into a disk). */
  finish?(staging: string, signal: AbortSignal): Promise<void>;
  /**
   * Files the kind writes beside the staging directory of a `files` / `tree` output, named by a
   * suffix (`<staging><suffix>`: the rootfs kind's `.rootfs-record.jsonl`). Each is committed with
   * the output (renamed to `<target><suffix>` right after it), removed with it on failure; with
   * `--replace`, the old output's file of that suffix goes with the old output.
   */
  companions?: string[];
}

// ---------------------------------------------------------------------------
// inspect
// ---------------------------------------------------------------------------

export interface KindDescribeRequest {
  source: Source;
  root: LoadedDocument;
  load(descriptor: Descriptor): Promise<LoadedDocument>;
  signal: AbortSignal;
  log: Logger;
}

/** One thing a kind found in an index (a disk, a kernel target, an image platform). */
export interface KindEntry {
  manifestDigest: string;
  platform?: Platform;
  /** Kind-specific facts, shown by `inspect` (disk type, title, size, kernel version, ...). */
  facts: Record<string, unknown>;
}

// ---------------------------------------------------------------------------
// pack
// ---------------------------------------------------------------------------

/**
 * One layer to publish: the core compresses (unless `asIs`), hashes and uploads it; or, with
 * `blob`, a blob a source already holds (a base image's layer), published as it is with its
 * digest kept: mounted across repositories of the same registry, else copied from `from`.
 */
export interface PackLayer {
  /** A local file, or bytes produced on demand (may be called again to retry). */
  path?: string;
  open?(): Promise<Readable>;
  /** An existing blob of the source `from` (a reference given to {@link KindPackRequest.base}). */
  blob?: Descriptor;
  from?: string;
  /** sha256 of the uncompressed layer (an image's `rootfs.diff_ids` entry), for the result. */
  diffId?: string;
  /** Codec to compress with (`none` to publish the bytes as they are). */
  codec: string;
  /** The bytes are published as they are (already compressed with `codec`). */
  asIs?: boolean;
  mediaType: string;
  annotations?: Record<string, string>;
}

/** One manifest to publish and the index entry pointing at it. */
export interface PackEntry {
  layers: PackLayer[];
  /** The config blob (the empty descriptor's `{}` when undefined). */
  config?: { mediaType: string; bytes: Buffer };
  /** The manifest's media type: OCI's (default) or Docker's v2s2 (no artifactType, no annotations). */
  manifestMediaType?: string;
  artifactType?: string;
  manifestAnnotations?: Record<string, string>;
  /** What the index entry says beside the digest. */
  platform: Platform;
  annotations?: Record<string, string>;
  /** Facts for the pack result (hypervisor, title, ...). */
  facts?: Record<string, unknown>;
}

/** What the core published for one {@link PackEntry} (in the order the kind returned them). */
export interface PackedEntry {
  platform: Platform;
  annotations?: Record<string, string>;
  /** The manifest as the index lists it. */
  manifestDigest: string;
  manifestSize: number;
  config: Descriptor;
  /** The layer blobs, in the entry's order, with their annotations. */
  layers: Descriptor[];
  /** The codec each layer carries (`none`: the bytes as given). */
  codecs: string[];
  /** The diff ID of each layer, when the kind named them (image layers). */
  diffIds?: string[];
  /** The manifest's media type. */
  manifestMediaType: string;
  facts: Record<string, unknown>;
}

export interface KindPackRequest {
  /** Kind-specific inputs as the CLI or the library caller gave them (disks, kernel, rootfs, ...). */
  inputs: Record<string, unknown>;
  /** The codecs configured (their records: encoders, media types, extensions, magic bytes). */
  codecs: import('../codecs.js').CodecRegistry;
  /**
   * The platform asked for (`--arch`, `--os`; default this host and linux), architecture in
   * `uname -m` naming (x86_64, aarch64), already checked to be a known one.
   */
  platform: Platform;
  settings: Readonly<Settings>;
  transport?: TransportOptions;
  /**
   * A private work directory for this pack (staged layers, a base's tree), removed by the core
   * when the pack ends, whatever the outcome. The same directory on every call (optional: a
   * caller of `kind.pack` other than the core may offer none).
   */
  workDir?(): Promise<string>;
  /**
   * Open `reference` (`TRANSPORT:REFERENCE`) as a base image for `platform` (default: the run's
   * platform setting): its tree pulled by the `tree` kind (default `rootfs`) into the work
   * directory, its manifest and config. Its layers can then be published as `{ blob, from:
   * reference }` layers. Undefined when the core offers no bases.
   */
  base?(reference: string, options?: { platform?: Platform; kind?: string }): Promise<PackBase>;
  signal: AbortSignal;
  log: Logger;
}

/** A base image opened for a pack: what its tree, manifest and config are. */
export interface PackBase {
  /** The reference as given (what layers name in `from`). */
  reference: string;
  /** The manifest chosen for the platform, as its index lists it. */
  manifestDescriptor: Descriptor;
  manifest: ImageManifest;
  /** The image config's bytes as published. */
  config: Buffer;
  platform: Platform;
  /** The base's tree (in the work directory). */
  tree: string;
  /** The rootless record beside the tree (`TREE.rootfs-record.jsonl`), when the pull wrote one. */
  record?: string;
}

// ---------------------------------------------------------------------------
// the record
// ---------------------------------------------------------------------------

export interface Kind {
  /** `disk`, `rootfs`, `kernel`, ... (the `--kind` value). */
  readonly name: string;
  /** One line for `--help` and errors. */
  readonly description: string;
  /**
   * The tag a registry reference that names none gets (`docker://alpine` → `alpine:latest`);
   * undefined: `latest`. The disk kind answers the machine-os version (`5.5`).
   */
  defaultTag?(settings: Readonly<Settings>): string | undefined;
  /**
   * `-o PATH` names the output itself even when PATH is an existing directory (a tree replacing a
   * tree, with `--replace`); the plan's `outputName` inside a directory only for `-o DIR/` or no
   * `-o`. Undefined: an existing directory is where the output is put, under its `outputName`.
   */
  readonly outputIsPath?: boolean;
  /** Choose what to pull out of `root` and plan it. */
  plan(request: KindPlanRequest): Promise<Plan>;
  /** What `inspect` lists for this kind. */
  describe?(request: KindDescribeRequest): Promise<KindEntry[]>;
  /** Turn inputs into manifests and index entries for `pack`. */
  pack?(request: KindPackRequest): Promise<PackEntry[]>;
  /**
   * The key two index entries share when a merge replaces one with the other (disk: disktype,
   * os, architecture); undefined for entries this kind does not own (kept by a merge).
   */
  entryKey?(entry: Descriptor): string | undefined;
  /**
   * Kind-specific fields of the pack result, beside the generic `entries` (the disk kind: its
   * `disks` list). Called once, after the index is pushed.
   */
  packResult?(packed: PackedEntry[]): Record<string, unknown>;
}
