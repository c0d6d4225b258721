/**
 * Every error code ocipull can report, with its exit status and a one-line explanation.
 * This is the single list: docs/errors.md must name every entry (a test checks it).
 * Codes are stable: rename never, add freely.
 */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  AUTH: 4,
  INTEGRITY: 5,
  NETWORK: 6,
  FORMAT: 7,
  OUTPUT: 8,
  INTERRUPTED: 130,
} as const;

export interface CodeInfo {
  exit: number;
  summary: string;
}

const c = (exit: number, summary: string): CodeInfo => ({ exit, summary });

export const CODES = {
  // generic
  INTERNAL: c(EXIT.FAILURE, 'An unexpected internal failure (a bug: please report it).'),
  INTERRUPTED: c(
    EXIT.INTERRUPTED,
    'The run was interrupted (Ctrl-C; the CLI exits 143 for SIGTERM); nothing was left at the output path.',
  ),
  USAGE: c(EXIT.USAGE, 'The command line is wrong: unknown flag, missing argument or bad value.'),
  // config, presets, plugins
  CONFIG_INVALID: c(
    EXIT.USAGE,
    'The configuration file does not match the schema (the key path and accepted values are shown).',
  ),
  CONFIG_LOAD_FAILED: c(EXIT.USAGE, 'The configuration file could not be read or parsed.'),
  PRESET_NOT_FOUND: c(
    EXIT.USAGE,
    'A preset named on the command line, in config or in `extends` does not exist.',
  ),
  PRESET_INVALID: c(EXIT.USAGE, 'A preset file does not match the preset schema.'),
  PRESET_CYCLE: c(EXIT.USAGE, 'Presets extend each other in a cycle.'),
  PLUGIN_NOT_FOUND: c(
    EXIT.USAGE,
    'A plugin named in config or a preset is not installed (the package to install is named).',
  ),
  PLUGIN_INVALID: c(
    EXIT.USAGE,
    'A plugin module does not export a plugin (an object or class with `name` and `apply`).',
  ),
  PLUGIN_DUPLICATE: c(EXIT.USAGE, 'Two plugins with the same name were applied.'),
  PLUGIN_FAILED: c(EXIT.FAILURE, 'A plugin threw an unexpected error; the plugin and hook are named.'),
  NO_TRANSPORT: c(
    EXIT.USAGE,
    'No plugin handles the source scheme (e.g. s3:); install the plugin that does.',
  ),
  NO_SELECTOR: c(EXIT.USAGE, 'No plugin selects disks of the requested disk type.'),
  NO_KIND: c(EXIT.USAGE, 'No plugin registers the artifact kind asked for (--kind / `kind`).'),
  NO_UNPACKER: c(EXIT.FORMAT, 'No plugin can unpack the layer kind.'),
  NO_CODEC: c(EXIT.FORMAT, 'The data is compressed with a codec no installed plugin decompresses.'),
  NO_CACHE: c(EXIT.USAGE, 'A cache command or --offline needs a cache plugin and none is configured.'),
  // references and sources
  REFERENCE_INVALID: c(EXIT.USAGE, 'The source or destination reference is not valid for its transport.'),
  TAG_INVALID: c(
    EXIT.USAGE,
    'A tag does not match [A-Za-z0-9_][A-Za-z0-9._-]{0,127} (path-like tags are refused).',
  ),
  TAG_NOT_FOUND: c(
    EXIT.NOT_FOUND,
    'The tag does not exist at the source (existing tags are listed when known).',
  ),
  MANIFEST_NOT_FOUND: c(EXIT.NOT_FOUND, 'The manifest or index does not exist at the source.'),
  NAME_UNKNOWN: c(EXIT.NOT_FOUND, 'The registry does not know the repository.'),
  BLOB_NOT_FOUND: c(EXIT.NOT_FOUND, 'A blob named by a descriptor is missing at the source.'),
  // OCI layout
  LAYOUT_MISSING: c(
    EXIT.NOT_FOUND,
    'The layout directory does not exist, or is not an OCI image layout (no `oci-layout` file).',
  ),
  LAYOUT_VERSION_UNSUPPORTED: c(EXIT.FORMAT, "The layout's `imageLayoutVersion` is not 1.0.0."),
  LAYOUT_INDEX_INVALID: c(EXIT.FORMAT, "The layout's `index.json` is missing or malformed."),
  LAYOUT_FILE_INVALID: c(
    EXIT.FORMAT,
    'A file of the layout (oci-layout, index.json, a blob) is not a regular file inside it: a FIFO, device, directory or a symlink leading out.',
  ),
  // documents
  MANIFEST_INVALID: c(EXIT.FORMAT, 'A manifest or index is not valid JSON of the OCI / Docker schema.'),
  MANIFEST_TOO_LARGE: c(EXIT.FORMAT, 'A manifest or index is larger than the 4 MiB limit.'),
  MEDIA_TYPE_UNSUPPORTED: c(EXIT.FORMAT, 'A document has a media type ocipull does not read.'),
  MANIFEST_SCHEMA1: c(
    EXIT.FORMAT,
    'The manifest is Docker schema 1 (`...manifest.v1+json` / `+prettyjws`), which ocipull does not read: copy the image as Docker v2s2 or OCI.',
  ),
  INDEX_TOO_DEEP: c(EXIT.FORMAT, 'Nested indexes go deeper than the limit, or refer to themselves.'),
  INDEX_TOO_LARGE: c(
    EXIT.FORMAT,
    'Nested indexes list more entries than the limit (10000 by default), counting each index once.',
  ),
  // integrity
  DIGEST_INVALID: c(
    EXIT.FORMAT,
    'A digest is not `algorithm:hex` of a supported algorithm (sha256, sha512).',
  ),
  DIGEST_MISMATCH: c(EXIT.INTEGRITY, 'Content does not hash to the digest that names it; nothing was kept.'),
  SIZE_MISMATCH: c(
    EXIT.INTEGRITY,
    'Content is longer or shorter than its descriptor says; nothing was kept.',
  ),
  // registry / network
  UNAUTHORIZED: c(
    EXIT.AUTH,
    'The registry wants credentials, or refused the ones given (the source tried is named).',
  ),
  DENIED: c(EXIT.AUTH, 'The registry refused access to the repository with these credentials.'),
  TOO_MANY_REQUESTS: c(EXIT.NETWORK, 'The registry kept answering 429 after the retries.'),
  SERVER_ERROR: c(EXIT.NETWORK, 'The registry kept answering 5xx after the retries.'),
  NETWORK: c(EXIT.NETWORK, 'A connection failed (refused, reset, DNS) after the retries.'),
  TIMEOUT: c(EXIT.NETWORK, 'A connection or body stalled past the timeout after the retries.'),
  TLS: c(EXIT.NETWORK, 'The TLS handshake failed or the certificate did not verify.'),
  INSECURE_REFUSED: c(
    EXIT.USAGE,
    'Plain HTTP or unverified TLS was needed for a registry that is not loopback or listed insecure.',
  ),
  UNEXPECTED_RESPONSE: c(
    EXIT.NETWORK,
    'The server answered with something that is not the registry API (HTML, wrong content type).',
  ),
  TRUNCATED: c(EXIT.NETWORK, 'A body ended before its announced length and could not be resumed.'),
  OFFLINE: c(EXIT.NOT_FOUND, '--offline was given and what is needed is not in the cache.'),
  // selection / artifact
  NO_MATCHING_DISK: c(
    EXIT.NOT_FOUND,
    'No index entry has the requested disktype, os and architecture (what exists is listed).',
  ),
  NO_MATCHING_KERNEL: c(
    EXIT.NOT_FOUND,
    'No kernel package entry has the requested platform, architecture, version and features (what exists is listed).',
  ),
  ARTIFACT_LAYER_COUNT: c(EXIT.FORMAT, 'A disk manifest must have exactly one layer.'),
  KERNEL_PACKAGE_INVALID: c(
    EXIT.FORMAT,
    "A kernel package is not in kraftkit's shape (layers, paths, config).",
  ),
  ARTIFACT_NO_TITLE: c(
    EXIT.FORMAT,
    'The disk layer has no org.opencontainers.image.title (use --allow-missing-title to accept).',
  ),
  ARTIFACT_TITLE_INVALID: c(
    EXIT.FORMAT,
    'The layer title is not a plain file name with format and codec extensions.',
  ),
  // unpack
  TAR_MULTIPLE_ENTRIES: c(EXIT.FORMAT, 'A one-file tar layer holds more than one entry.'),
  TAR_ENTRY_NOT_REGULAR: c(
    EXIT.FORMAT,
    'A one-file tar layer holds a link, device or directory instead of a regular file.',
  ),
  TAR_UNSAFE_PATH: c(EXIT.FORMAT, 'A tar entry name is absolute or climbs out with `..`.'),
  TAR_EMPTY: c(EXIT.FORMAT, 'A one-file tar layer holds no entry.'),
  TAR_INVALID: c(EXIT.FORMAT, 'A tar layer is malformed.'),
  // decompression
  DECOMPRESS_CORRUPT: c(EXIT.FORMAT, 'The compressed stream is corrupt; no output was kept.'),
  DECOMPRESS_TRUNCATED: c(EXIT.FORMAT, 'The compressed stream ends early; no output was kept.'),
  DECOMPRESS_TRAILING_DATA: c(
    EXIT.FORMAT,
    'Bytes that are not another stream follow the compressed data (docs/codecs.md says what padding each codec takes); no output was kept.',
  ),
  CODEC_MISMATCH: c(EXIT.FORMAT, 'The title or media type names a codec the bytes do not carry.'),
  DISK_FORMAT_MISMATCH: c(
    EXIT.FORMAT,
    'The disk bytes are not the format (qcow2, vhdx, raw, tar, ...) its title or disk type says; nothing was written or published.',
  ),
  EXPANSION_LIMIT: c(
    EXIT.FORMAT,
    'Decompressed output grew past the configured limit (decompression bomb guard).',
  ),
  // output
  OUTPUT_EXISTS: c(EXIT.OUTPUT, 'The output file exists; pass --replace to overwrite it.'),
  OUTPUT_FAILED: c(
    EXIT.OUTPUT,
    'The output could not be written (directory missing, disk full, permissions).',
  ),
  OUTPUT_NOT_FILE: c(
    EXIT.OUTPUT,
    'The output path is a character device, FIFO or socket; only a regular file (or a block device, with --replace) is written.',
  ),
  // cache
  CACHE_FAILED: c(EXIT.OUTPUT, 'The cache directory could not be read or written.'),
  CACHE_CORRUPT: c(EXIT.INTEGRITY, 'A cache entry failed verification; it was removed.'),
  // publishing
  PUSH_FAILED: c(EXIT.NETWORK, 'The destination refused an upload or manifest.'),
  TAG_CONFLICT: c(EXIT.OUTPUT, 'The destination tag exists and --exit-on-conflict was given.'),
  PACK_INPUT_INVALID: c(
    EXIT.USAGE,
    'A pack input is not what its kind takes: a --disk not HYPERVISOR=PATH of a readable file, a --rootfs that is no directory, an unknown --manifest-format or a layer --compress it cannot use.',
  ),
  UNSUPPORTED: c(EXIT.FORMAT, 'The operation is not supported by this transport or source.'),
  PROXY: c(
    EXIT.NETWORK,
    'The HTTP(S) proxy refused to open a tunnel to the registry (the proxy and its HTTP status are named).',
  ),
  TOO_SLOW: c(
    EXIT.NETWORK,
    'A body arrived slower than lowSpeedLimit bytes/s for lowSpeedTime seconds (not retried).',
  ),
  RETRY_AFTER_TOO_LONG: c(
    EXIT.NETWORK,
    'The registry asked (Retry-After) to wait longer than maxRetryAfterMs; the run stopped at once.',
  ),
  OUTPUT_NAME_INVALID: c(
    EXIT.FORMAT,
    "A part's file name in a directory output is empty, `.`, `..`, holds a `/` or is used twice.",
  ),
  // exporting a tree as an image
  TREE_INPUT_INVALID: c(
    EXIT.USAGE,
    'A tree to export as a layer cannot be read or holds what a layer cannot carry (a whiteout name, a name that is not UTF-8).',
  ),
  LAYER_CODEC_UNSUPPORTED: c(
    EXIT.USAGE,
    'The layer compression is not one the manifest format takes (zstd only in OCI; gzip or none in Docker v2s2).',
  ),
  IMAGE_CONFIG_INVALID: c(
    EXIT.USAGE,
    'An image config field (platform, env, label, user, base config) is not valid; the field and the accepted form are named.',
  ),
  // root filesystems (kind rootfs)
  LAYER_UNSAFE_PATH: c(
    EXIT.FORMAT,
    'A layer entry or hardlink target is absolute, climbs out with `..`, or names nothing; nothing is written outside the tree.',
  ),
  LAYER_INVALID: c(
    EXIT.FORMAT,
    'A layer entry cannot be applied: a hardlink to a missing entry or a directory, a parent that is a file, a malformed header.',
  ),
  LAYER_SIZE_LIMIT: c(
    EXIT.FORMAT,
    'A layer or the image unpacks to more bytes than the configured budget (stopped before writing past it).',
  ),
  LAYER_ENTRY_LIMIT: c(EXIT.FORMAT, 'A layer or the image holds more entries than the configured limit.'),
  NO_MATCHING_PLATFORM: c(
    EXIT.NOT_FOUND,
    'No image of the index is for the requested platform (os/architecture/variant; what exists is listed).',
  ),
  ROOTFS_OPTION_INVALID: c(
    EXIT.USAGE,
    'A rootfs setting or flag is not valid or does not fit the others (an unknown --format, --size with a tree or a tar, a rootfs flag with another kind); what is accepted is named.',
  ),
  LAYER_NOT_DISTRIBUTABLE: c(
    EXIT.FORMAT,
    'A layer is non-distributable (OCI nondistributable, Docker foreign) and none of its urls starts with a prefix of `kinds.rootfs.allowUrls`.',
  ),
  ROOTFS_OUTPUT_FAILED: c(
    EXIT.OUTPUT,
    'A root filesystem could not be turned into its tar, ext4 or erofs output (the tool and its message are named).',
  ),
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof CODES;

export function exitCodeFor(code: ErrorCode): number {
  return CODES[code]?.exit ?? EXIT.FAILURE;
}
