/**
 * Public types of ocipull: everything a plugin (built-in or third-party) may rely on.
 *
 * OCI shapes follow the image spec (https://github.com/opencontainers/image-spec):
 * descriptor.md, image-index.md, manifest.md, image-layout.md.
 */
import type { Duplex, Readable, Transform, Writable } from 'node:stream';

// ---------------------------------------------------------------------------
// OCI content
// ---------------------------------------------------------------------------

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

/** An OCI content descriptor: every fetch in ocipull is keyed by one. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  /** Base64 content embedded in the descriptor; when present nothing is fetched. */
  data?: string;
  urls?: string[];
  artifactType?: string;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** A parsed manifest document together with the descriptor it was fetched by. */
export type LoadedDocument =
  | { kind: 'index'; descriptor: Descriptor; index: ImageIndex; bytes: Buffer }
  | { kind: 'manifest'; descriptor: Descriptor; manifest: ImageManifest; bytes: Buffer };

// ---------------------------------------------------------------------------
// Logging and run options
// ---------------------------------------------------------------------------

export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug';

/** Logger handed to plugins. Anything registered with `redact` never reaches the output. */
export interface Logger {
  readonly level: LogLevel;
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  /** Register a secret (password, token): every later log line has it replaced by `***`. */
  redact(secret: string): void;
}

/**
 * Transport-level options a run carries: CLI flags merged over config.
 * Transports read what concerns them and ignore the rest.
 */
export interface TransportOptions {
  /** Verify TLS certificates (default true). */
  tlsVerify?: boolean;
  /** `USER:PASS` from --creds. Never log it. */
  creds?: string;
  /** Path given by --authfile. */
  authfile?: string;
  /** --cert-dir: a directory of `*.crt` CAs and a `*.cert` + `*.key` client pair, used instead of certs.d. */
  certDir?: string;
  /** Hosts (HOST or HOST:PORT) for which plain HTTP / unverified TLS is allowed. */
  insecureRegistries?: string[];
  /** `{ "quay.io": ["mirror.example:5000"] }`: tried in order before the origin. */
  mirrors?: Record<string, string[]>;
  /** Tag applied to a registry reference that names neither tag nor digest. */
  defaultTag?: string;
  /** Do not touch the network. */
  offline?: boolean;
  /** containers registries.conf to read mirrors from; false: ignore it; undefined: the usual places. */
  registriesConf?: string | false;
  /** Extra per-transport settings from config (`transports.<scheme>`). */
  settings?: Record<string, unknown>;
}

// ---------------------------------------------------------------------------
// Hook payloads: resolve
// ---------------------------------------------------------------------------

/** `scheme:rest` as typed by the user, split by the core. `docker://quay.io/x` → `docker`, `//quay.io/x`. */
export interface SourceRef {
  raw: string;
  scheme: string;
  rest: string;
}

export interface ResolveRequest {
  ref: SourceRef;
  options: TransportOptions;
  /** `pull` resolves an existing reference; `push` prepares a destination that may not exist yet. */
  purpose: 'pull' | 'push';
  signal: AbortSignal;
  log: Logger;
}

/**
 * A resolved source. `root` is resolved eagerly by the transport so that "not found" surfaces
 * at once. Optional members are capabilities: the core checks for them, never requires them.
 */
export interface Source {
  /** Transport scheme this source belongs to (the `fetch` HookMap key). */
  readonly scheme: string;
  /** Canonical, round-trippable reference, e.g. `docker://quay.io/podman/machine-os:5.5`. */
  readonly reference: string;
  /** The descriptor the reference points at (an index or a manifest). Undefined only for `push`. */
  readonly root?: Descriptor;
  /** Tags known at the source, for error messages and listings. */
  listTags?(): Promise<string[]>;
  /** Release connections and handles. */
  close?(): Promise<void>;
}

// ---------------------------------------------------------------------------
// push (an optional capability of a Source resolved with `purpose: 'push'`)
// ---------------------------------------------------------------------------

/** The bytes of a blob to upload. `open` may be called again (from an offset) to retry. */
export interface BlobBody {
  open(offset?: number): Promise<Readable>;
  /** The bytes are exactly this local file: a local store may link or rename it instead of copying. */
  readonly path?: string;
  /** `path` is a temp file the destination may take over (rename); otherwise it must be left alone. */
  readonly disposable?: boolean;
}

/** What a destination holds under a tag (for merges): the document's descriptor and bytes. */
export interface TaggedDocument {
  descriptor: Descriptor;
  bytes: Buffer;
}

/**
 * Publishing abilities a transport adds to the Source it resolves for `push`
 * (containers/image ImageDestination, oras-go Pusher). Everything here is optional for a
 * transport: one without it is read-only (`isDestination` tells). Blobs are pushed first,
 * then manifests by digest, then the tagged document last, so a failure never leaves a
 * half-published tag.
 */
/** What an index entry says about the document it lists, beside its digest (kept by `copy`). */
export interface ManifestEntry {
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Destination {
  /** The tag the destination reference names, if any (`oci-dir:DIR:TAG`, `docker://r/x:TAG`). */
  readonly tag?: string;
  /** Whether the destination already holds this blob (`HEAD` on a registry). */
  hasBlob(descriptor: Descriptor, signal: AbortSignal): Promise<boolean>;
  /** Store a blob. The destination checks the digest and size of what it received. */
  pushBlob(descriptor: Descriptor, body: BlobBody, signal: AbortSignal): Promise<void>;
  /** Link a blob another source of the same transport holds (registry cross-repository mount); false: not done. */
  mountBlob?(descriptor: Descriptor, from: Source, signal: AbortSignal): Promise<boolean>;
  /**
   * Store a manifest or index, under `reference` (a tag or its digest) or untagged when undefined.
   * `entry`: the platform and annotations the document's source index entry carried; a destination
   * with an index of its own (an OCI layout's `index.json`) records them on the entry it writes.
   */
  pushManifest(
    bytes: Buffer,
    mediaType: string,
    reference: string | undefined,
    signal: AbortSignal,
    entry?: ManifestEntry,
  ): Promise<Descriptor>;
  /** The document a tag points at now, or undefined when the tag does not exist (for merges). */
  readTag?(tag: string, signal: AbortSignal): Promise<TaggedDocument | undefined>;
  /** A directory on the destination's file system where staged blobs can be written (then renamed in). */
  stagingDir?(): Promise<string>;
}

// ---------------------------------------------------------------------------
// fetch
// ---------------------------------------------------------------------------

export interface FetchRequest {
  source: Source;
  descriptor: Descriptor;
  /** Ask for bytes from this offset on (a `Range` request). */
  offset: number;
  /** Validator from an earlier partial download (`If-Range`). */
  ifRange?: string;
  /**
   * Ask for only this many bytes from `offset` (a bounded `Range`, for parallel ranged downloads).
   * Optional to honour: a transport that sends fewer or more says so through `FetchResponse.end`.
   */
  length?: number;
  signal: AbortSignal;
  log: Logger;
}

export interface FetchResponse {
  /** The raw bytes. The core verifies digest and size: transports never need to. */
  body: Readable;
  /** Offset within the blob of the first byte of `body`: 0 when a server ignored `Range`. */
  offset: number;
  /** Total size announced by the source, when known. */
  total?: number;
  /** Validators usable for resume (`ETag`, `Last-Modified`). */
  etag?: string;
  lastModified?: string;
  /** Where the bytes came from, with no credentials in it (for records and messages). */
  url?: string;
  /**
   * Offset within the blob just past the last byte of `body`, when the transport honoured a
   * `length` (a `206` with a bounded `Content-Range`). Unset: the body runs to the blob's end.
   */
  end?: number;
}

// ---------------------------------------------------------------------------
// select
// ---------------------------------------------------------------------------

export interface DiskRequest {
  /** Hypervisor name as in the `disktype` annotation: qemu, applehv, hyperv, wsl, ... */
  diskType: string;
  os: string;
  /** Architecture as asked for (either naming: amd64 or x86_64). */
  architecture: string;
  /** CPU variant the entry's platform must name, when one is asked for. */
  variant?: string;
  /** Accept a layer without `org.opencontainers.image.title`. */
  allowMissingTitle: boolean;
  /** Disk format expected by the preset (qcow2, raw, vhdx, tar), when it names one. */
  format?: string;
}

export interface SelectRequest {
  source: Source;
  /** The document the reference points at. */
  root: LoadedDocument;
  want: DiskRequest;
  /** Fetch, verify and parse a nested index or manifest. */
  load(descriptor: Descriptor): Promise<LoadedDocument>;
  log: Logger;
}

export interface Selection {
  /** The chosen manifest's descriptor as listed in its index (annotations and platform included). */
  manifestDescriptor: Descriptor;
  manifest: ImageManifest;
  /** The single layer holding the disk. */
  layer: Descriptor;
  diskType: string;
  platform: Platform;
  /** `org.opencontainers.image.title` of the layer, if any. */
  title?: string;
  /** Disk format from the title (`qcow2` of `x.qcow2.zst`) or the preset. */
  format?: string;
  /** Codec named by the title's last extension (`zstd` for `.zst`), a hint only. */
  codecHint?: string;
}

// ---------------------------------------------------------------------------
// cache
// ---------------------------------------------------------------------------

export interface CacheRequest {
  /** Cache directory chosen by config / --cache-dir. */
  dir: string;
  settings: Record<string, unknown>;
  log: Logger;
}

/** Where a cached blob came from (kept as a record next to it). */
export interface CacheOrigin {
  source: string;
  manifestDigest?: string;
  title?: string;
  diskType?: string;
  platform?: Platform;
  /** The run pulls the configured default source (`defaultSource`): podman's `on-miss` policy keys on it. */
  defaultSource?: boolean;
}

/** A successful resolution worth keeping for offline use: the reference as typed and the documents read. */
export interface CacheRememberRequest {
  /** The reference as the user typed it (or the configured default source). */
  requested: string;
  /** Tag the transport applied to a reference naming none. */
  defaultTag?: string;
  /** The resolved source (`reference` is canonical, `root` the document it points at). */
  source: Source;
  /** Every index and manifest loaded to choose the disk, root first, each verified. */
  documents: LoadedDocument[];
}

export interface CacheOfflineRequest {
  requested: string;
  defaultTag?: string;
  /** `offline`: --offline was given; `unreachable`: the source failed with a network error. */
  reason: 'offline' | 'unreachable';
}

export interface CachePruneOptions {
  /** Remove every entry, not only what the policy or age selects. */
  all?: boolean;
  /** Remove entries (and partials) not used for this many milliseconds. */
  olderThanMs?: number;
}

export interface CachePruneResult {
  entries: CacheEntryInfo[];
  /** Partial downloads removed. */
  partials: number;
  /** Bytes freed on disk. */
  bytes: number;
}

export interface CachedBlob {
  readonly descriptor: Descriptor;
  readonly path: string;
  /** Stream the complete blob (the core verifies it again while reading). */
  open(): Readable;
}

/** A download in progress, owned by this process until `commit` or `abort`. */
export interface CacheWriter {
  /** Bytes already present from an earlier, interrupted run. */
  readonly offset: number;
  /** Validator recorded with the partial (ETag or Last-Modified), for `If-Range`. */
  readonly ifRange?: string;
  /** Bytes [0, offset) of the partial, so the core can seed the digest and the decoder. */
  replay(): Readable;
  /** Record fetch metadata (URL, validators) as soon as the response is known. */
  describe(info: { url?: string; etag?: string; lastModified?: string }): Promise<void>;
  /** Append bytes after `offset`. Resolves when written (back-pressure). */
  write(chunk: Buffer): Promise<void>;
  /**
   * Optional (ranged downloads): [start, end) ranges past `offset` complete from an earlier run,
   * sorted. The core reads them back with `readRange` (and hashes them in order) instead of
   * fetching them again.
   */
  readonly completed?: ReadonlyArray<readonly [number, number]>;
  /** Optional: bytes [start, end) of the partial (one of `completed`). */
  readRange?(start: number, end: number): Readable;
  /** Optional: write bytes at their offset in the blob (parallel ranges arrive out of order). */
  writeAt?(offset: number, chunk: Buffer): Promise<void>;
  /** Optional: [start, end) is written in full; record it so a restart fetches only the gaps. */
  markComplete?(start: number, end: number): Promise<void>;
  /** Called only after the core verified digest and size of the complete blob. */
  commit(): Promise<CachedBlob>;
  /** Give up. `keepPartial` keeps bytes for a later resume (interruptions), never after a mismatch. */
  abort(keepPartial: boolean): Promise<void>;
}

export type CacheHandle =
  | { kind: 'hit'; blob: CachedBlob; release(): Promise<void> }
  | { kind: 'miss'; writer: CacheWriter };

export interface CacheEntryInfo {
  digest: string;
  size: number;
  title?: string;
  source?: string;
  manifestDigest?: string;
  lastUsed?: string;
  path: string;
}

/** The cache service a `cache` tap returns. Optional members are management capabilities. */
export interface BlobCache {
  readonly dir: string;
  /** Look without locking: a verified complete entry or undefined. */
  peek(descriptor: Descriptor): Promise<CachedBlob | undefined>;
  /** Take the per-digest lock (waiting for another process if needed) and return a hit or a writer. */
  open(descriptor: Descriptor, origin: CacheOrigin, signal?: AbortSignal): Promise<CacheHandle>;
  /** A stored entry failed verification: remove it. */
  evict(digest: string): Promise<void>;
  list?(): Promise<CacheEntryInfo[]>;
  /** Called after an output was written from `digest` (eviction policies run here). */
  used?(digest: string, origin: CacheOrigin): Promise<void>;
  /** Remove entries and stale partials (`ocipull cache prune`). */
  prune?(options: CachePruneOptions): Promise<CachePruneResult>;
  /** Keep what a pull resolved (reference → root, the documents) so it can be pulled offline later. */
  remember?(request: CacheRememberRequest): Promise<void>;
  /** A Source served from the cache for a reference remembered earlier (or a digest it holds); undefined when absent. */
  openOffline?(request: CacheOfflineRequest): Promise<Source | undefined>;
  /**
   * Decompressed-base cache: fill the file at `path` (the output's temp file) with the decoded disk
   * kept for `digest` (reflink clone, else sparse copy). False when none is kept.
   */
  restoreDecoded?(digest: string, path: string): Promise<boolean>;
  /** Keep the decoded disk just written at `path` for later `restoreDecoded` (when enabled). */
  keepDecoded?(digest: string, path: string): Promise<void>;
}

// ---------------------------------------------------------------------------
// unpack
// ---------------------------------------------------------------------------

/** `blob`: the layer is the disk file; `tar`: the layer is a tar (maybe gzip) holding it. */
export type LayerKind = 'blob' | 'tar';

export interface UnpackRequest {
  layer: Descriptor;
  /** The disk kind's selection; for other kinds one made from the plan (`layer` is the part's). */
  selection: Selection;
  /** The part of the plan being unpacked (its `decode.name` is the file name the layer carries). */
  part?: import('./kinds/types.js').Part;
  /** Layer bytes as they stream (verified by the core while they flow). */
  input: Readable;
  signal: AbortSignal;
  log: Logger;
}

export interface Unpacked {
  /** The disk file's bytes (possibly still compressed). */
  stream: Readable;
  /** The file name carried by the layer (tar entry name), if any. */
  name?: string;
  size?: number;
}

// ---------------------------------------------------------------------------
// decompress
// ---------------------------------------------------------------------------

/** A codec's identity: how the core recognises it before dispatching to `decompress.for(name)`. */
export interface CodecInfo {
  name: string;
  /** Magic byte sequences at offset 0. */
  magic: Uint8Array[];
  /** File name extensions, without dot (`zst`, `xz`). */
  extensions: string[];
  mediaTypes: string[];
  /** Magic bytes alone are not trusted (zip): the name must agree too. */
  requireNameMatch?: boolean;
  /**
   * The media type `pack` gives a layer in this codec (`application/zstd`); default: the first of
   * `mediaTypes` (`application/octet-stream` when there is none). The title extension `pack`
   * appends is the first of `extensions` (none for `none`).
   */
  layerMediaType?: string;
  /**
   * An in-process streaming decoder: compressed bytes in, decoded bytes out, any number of times
   * (a new stream per call). It fails with the decode codes (DECOMPRESS_TRUNCATED,
   * DECOMPRESS_CORRUPT, DECOMPRESS_TRAILING_DATA) as the `decompress` hook does, and knows no
   * output file: any kind can decode a part with it (a compressed tar layer into a tree). Absent
   * for a format that is not a stream (zip).
   */
  decodeStream?(): Duplex;
  /** How `pack` compresses into this codec; absent: the codec is only accepted as already compressed input. */
  encoder?: CodecEncoder;
}

/** A codec's compressor: the real tool when installed, else (or only) an in-process stream. */
export interface CodecEncoder {
  /** Executable name looked up on PATH (`zstd`); it writes the compressed file to stdout. */
  command?: string;
  /** Its arguments, before the input file's path (`-T0 -14 -q -c`). */
  args?: string[];
  /** Debian package that installs `command`, for hints (default: `command`). */
  package?: string;
  /** An in-process compressor, used when `command` is not installed (or there is none). */
  stream?(level?: number): Transform;
}

/** The output file being written (a temp file beside the target, renamed by the core). */
export interface DiskOutput {
  /** The temp file's path. */
  readonly path: string;
  /** Open file descriptor of the temp file (child processes may write to it directly). */
  readonly fd: number;
  /** Write holes for aligned zero runs of at least 4 KiB. */
  readonly sparse: boolean;
  /** A writable at offset 0 of the file that leaves holes when `sparse`; counts bytes. */
  createWriteStream(): Writable;
  /** Bytes written so far through `createWriteStream` or reported with `advance`. */
  readonly bytesWritten: number;
  /**
   * Set when the output is a block device written in place (`-o DEVICE --replace`): `path` is the
   * device, `size` its size when known. Decoders must write through `createWriteStream` (which
   * refuses to pass the device's end), never into `fd` themselves.
   */
  readonly device?: { readonly size: number | undefined };
}

export interface DecompressRequest {
  codec: string;
  input: Readable;
  output: DiskOutput;
  /** Refuse output beyond this many bytes (decompression bomb guard); undefined: no limit. */
  maxOutputBytes?: number;
  signal: AbortSignal;
  log: Logger;
  /**
   * The whole compressed input as a complete local file (a cache hit), when it is exactly the
   * bytes of `input`: a codec may read it at any offset (e.g. frames in parallel). `input` must
   * still be read to its end (the core verifies the blob from it).
   */
  blobFile?: string;
  /**
   * The blob's size (its descriptor's), when `input` is the whole blob as stored (no unpacking
   * before the codec): a codec may plan from it before the blob has arrived.
   */
  blobSize?: number;
}

export interface DecompressResult {
  bytesWritten: number;
}

// ---------------------------------------------------------------------------
// lifecycle
// ---------------------------------------------------------------------------

export type Phase = 'resolve' | 'select' | 'download' | 'decompress' | 'write' | 'done';

export interface ProgressEvent {
  phase: Phase;
  /** Bytes done in this phase (download: blob bytes; decompress: output bytes). */
  bytes?: number;
  total?: number;
  message?: string;
}

export interface PullResult {
  source: string;
  manifestDigest: string;
  blobDigest: string;
  diskType: string;
  /** The chosen manifest's platform (its variant when the index names one). */
  platform: { os: string; architecture: string; variant?: string };
  output: string;
  cacheHit: boolean;
  bytesFetched: number;
  durationMs: number;
  /** The artifact kind, for kinds other than `disk` (whose result has exactly the fields above). */
  kind?: string;
  /** That kind's facts about what it pulled (its plan's `details`): stable, shown by `--json`. */
  facts?: Record<string, unknown>;
  /** Extra facts (title, codec, resumedFrom); not part of the stable --json shape. */
  details?: Record<string, unknown>;
}

export interface PullPlan {
  source: string;
  output: string;
  want: DiskRequest;
}

// ---------------------------------------------------------------------------
// plugins
// ---------------------------------------------------------------------------

/** A plugin: a named object whose `apply` taps the orchestrator's hooks. */
export interface Plugin {
  readonly name: string;
  apply(orchestrator: import('./orchestrator.js').Orchestrator): void;
}

/** What a plugin module may export as default: a class taking options, a factory, or a plugin. */
export type PluginExport =
  | (new (
      options?: Record<string, unknown>,
    ) => Plugin)
  | ((options?: Record<string, unknown>) => Plugin)
  | Plugin;
