/**
 * Every case of the reliability suites: what it injects and how it must end. The suites check
 * their observed counts against this list (`ran` in figures.ts) and docs/reliability.md is
 * rendered from it, so the doc's figures are the ones the suites ran.
 */

export type SuiteId =
  | 'faults'
  | 'crash'
  | 'concurrency'
  | 'hostile-tar'
  | 'hostile-docs'
  | 'properties'
  | 'hostile-layout'
  | 'secrets'
  | 'storage'
  | 'codecs'
  | 'network';

export interface ReliabilityCase {
  id: string;
  suite: SuiteId;
  title: string;
  /** How it ends: `byte-identical` or the error code (and what is asserted besides). */
  outcome: string;
  /** Faults the fake registry served (resets, statuses, stalls...). */
  faults?: number;
  /** SIGKILLs sent to a running CLI. */
  kills?: number;
  /** Hostile inputs refused with their code. */
  refused?: number;
  /** Concurrent pulls that ended byte-identical. */
  pulls?: number;
  /** Blob downloads the registry served (counted at the registry). */
  downloads?: number;
  /** Generated inputs a property checked. */
  inputs?: number;
  /** Outputs (stdout, stderr, logs, cache files of a run) scanned for secrets. */
  scanned?: number;
}

export interface Suite {
  id: SuiteId;
  title: string;
  file: string;
  description: string;
}

export const SUITES: Suite[] = [
  {
    id: 'faults',
    title: 'Network faults',
    file: 'test/reliability/faults.test.ts',
    description:
      'Pulls through the fault-injecting registry, judged by the requests it recorded and the debug log of the transport (no clocks); afterwards the output is byte-identical to the published disk (or absent, with the code shown) and the cache holds only verified blobs (every blob re-hashes to its name, every record has its blob, partials are only kept where the case says so).',
  },
  {
    id: 'crash',
    title: 'Crashes (SIGKILL)',
    file: 'test/reliability/crash.test.ts',
    description:
      'The CLI is killed with SIGKILL at a named point of a pull (`OCIPULL_TEST_PAUSE_AT`, see docs/cli.md), then run again: the second run completes byte-identical, reuses what was verified (counted at the registry) and leaves no temp file beside the output or in the cache.',
  },
  {
    id: 'concurrency',
    title: 'Concurrency',
    file: 'test/reliability/concurrency.test.ts',
    description:
      'Several CLI pulls into one cache at once, with `ocipull cache prune` alongside: all succeed byte-identical, each blob is downloaded once (counted at the registry), and `ocipull cache ls` agrees with a re-hash of every cached blob.',
  },
  {
    id: 'hostile-tar',
    title: 'Hostile tar layers',
    file: 'test/reliability/hostile-tar.test.ts',
    description:
      'One-file tar layers built to escape, pulled end to end (plain, gzip and zstd each: three refusals per case). Nothing is written outside the output path, nor at it.',
  },
  {
    id: 'hostile-docs',
    title: 'Hostile documents, bombs and references',
    file: 'test/reliability/hostile-documents.test.ts',
    description:
      'Manifests, indexes and layers built to exhaust or confuse, and references with control characters. Each is refused with its code before anything is written at the output path.',
  },
  {
    id: 'properties',
    title: 'Property-based parsers',
    file: 'test/reliability/properties.test.ts',
    description:
      'fast-check properties (fixed seeds, so runs repeat) over the registry reference parser, the `WWW-Authenticate` parser and the manifest validators: they never throw anything but a coded error, round-trip what they accept, and refuse what they must.',
  },
  {
    id: 'hostile-layout',
    title: 'Hostile OCI layouts',
    file: 'test/reliability/hostile-layout.test.ts',
    description:
      "OCI layouts whose files are FIFOs, character devices (made with mknod in the temp dir), directories, symlinks leading out of the layout or oversized, pulled end to end. Each is refused with its code without blocking on an open() or reading past a file's size, and nothing is written at the output path.",
  },
  {
    id: 'secrets',
    title: 'Secrets',
    file: 'test/reliability/secrets.test.ts',
    description:
      'Authenticated pulls from the real registry (htpasswd Basic and token auth) and the fake one; stdout, stderr, `--json`, `--debug` logs and error messages are scanned for the password and every token issued, and a redirect to another host must arrive without `Authorization`.',
  },
  {
    id: 'storage',
    title: 'Hostile storage',
    file: 'test/reliability/storage.test.ts',
    description:
      'Pulls through the real CLI onto hostile storage built by the test: cache entries whose first bytes were overwritten, full filesystems (small tmpfs mounts) under the output and the cache, cache directories that are not usable, device nodes, FIFOs and sockets at the output path (made with mknod/mkfifo in the temp directory; a loop device on a temp file for the block case). Each ends with its code and one message (no stack trace), nothing at the output path but a complete disk, and a cache holding only verified blobs.',
  },
  {
    id: 'codecs',
    title: 'Data after the compressed stream',
    file: 'test/codecs/trailing-data.test.ts',
    description:
      'gzip, bzip2, xz and zstd streams followed by garbage, zeros then garbage, 3 or 512 zero bytes, or the same stream again, each decoded by the child tool and in-process: both modes must give the same answer (the same bytes, or the same code with nothing at the output path).',
  },
  {
    id: 'network',
    title: 'Certificates and proxies',
    file: 'plugins/registry/net-errors.test.ts',
    description:
      'Registries served with certificates openssl made in the test (self-signed, unknown CA, another host name, expired) and proxies on loopback that refuse CONNECT: each is refused with its own code (TLS, PROXY) naming the host or proxy and how to fix it, never as a plain-HTTP 400 or an interrupt, and no proxy password is echoed.',
  },
];

const tar = (id: string, title: string, code: string): ReliabilityCase => ({
  id: `tar.${id}`,
  suite: 'hostile-tar',
  title,
  outcome: code,
  refused: 3,
});

export const CATALOG: ReliabilityCase[] = [
  tar('dotdot', '`../../escaped.qcow2`', 'TAR_UNSAFE_PATH'),
  tar('absolute', 'absolute path into /tmp', 'TAR_UNSAFE_PATH'),
  tar(
    'symlink-out',
    'symlink to a directory outside, then a file written through it',
    'TAR_ENTRY_NOT_REGULAR',
  ),
  tar('hardlink-out', 'hard link to /etc/passwd, then a file of that name', 'TAR_ENTRY_NOT_REGULAR'),
  tar('char-device', 'character device node', 'TAR_ENTRY_NOT_REGULAR'),
  tar('block-device', 'block device node', 'TAR_ENTRY_NOT_REGULAR'),
  tar('fifo', 'fifo', 'TAR_ENTRY_NOT_REGULAR'),
  tar('thousands', '5000 entries (the rest climbing out with ..)', 'TAR_MULTIPLE_ENTRIES'),
  tar('giant-header', '5 MiB pax header', 'TAR_INVALID'),
  tar('long-name', '1 MiB file name in a valid pax header', 'TAR_UNSAFE_PATH'),

  {
    id: 'doc.huge-manifest',
    suite: 'hostile-docs',
    title: '5 MiB manifest; the same with a descriptor claiming 600 bytes',
    outcome: 'MANIFEST_TOO_LARGE; SIZE_MISMATCH (before reading it)',
    refused: 2,
  },
  {
    id: 'doc.huge-index',
    suite: 'hostile-docs',
    title: '5 MiB layout index.json',
    outcome: 'MANIFEST_TOO_LARGE (checked before reading)',
    refused: 1,
  },
  {
    id: 'doc.deep',
    suite: 'hostile-docs',
    title: 'indexes nested 8 deep, pulled and inspected',
    outcome: 'INDEX_TOO_DEEP',
    refused: 2,
  },
  {
    id: 'doc.self-reference',
    suite: 'hostile-docs',
    title: 'index listing its own digest (forged blob); a loader returning the same index forever',
    outcome: 'DIGEST_MISMATCH; INDEX_TOO_DEEP',
    refused: 2,
  },
  {
    id: 'doc.media-types',
    suite: 'hostile-docs',
    title: 'manifest claiming to be an index; entry of media type text/html',
    outcome: 'MANIFEST_INVALID; MEDIA_TYPE_UNSUPPORTED',
    refused: 2,
  },
  {
    id: 'doc.duplicate-keys',
    suite: 'hostile-docs',
    title: 'manifest with `layers` twice (the second naming another blob); index.json with a key twice',
    outcome: 'MANIFEST_INVALID; LAYOUT_INDEX_INVALID',
    refused: 2,
  },
  {
    id: 'doc.wrong-sizes',
    suite: 'hostile-docs',
    title: 'layer size −1 byte, +1 byte, negative, 2^60; manifest size +7',
    outcome: 'SIZE_MISMATCH ×3; MANIFEST_INVALID ×2',
    refused: 5,
  },
  {
    id: 'bomb.configured',
    suite: 'hostile-docs',
    title: '64 MiB of zeros in zstd (child and in-process), xz, gzip, bzip2; maxExpansionRatio 10',
    outcome: 'EXPANSION_LIMIT',
    refused: 5,
  },
  {
    id: 'bomb.default',
    suite: 'hostile-docs',
    title: '1 GiB of zeros in ~33 KiB of zstd, default settings',
    outcome: 'EXPANSION_LIMIT (default maxExpansionRatio 1000)',
    refused: 1,
  },
  {
    id: 'ref.control-characters',
    suite: 'hostile-docs',
    title:
      'NUL, BEL, ESC[2J, newline, DEL in oci-dir and docker references (15 in process, 1 through the CLI)',
    outcome: 'REFERENCE_INVALID (exit 2; stderr shows them escaped)',
    refused: 16,
  },

  {
    id: 'prop.reference',
    suite: 'properties',
    title:
      'registry references: arbitrary text; generated valid references; a control character or space spliced in; long near-misses',
    outcome:
      'parse or REFERENCE_INVALID only; normalization idempotent; exact round-trip; always refused; long near-misses refused (3 × 1000 runs)',
    inputs: 3005,
  },
  {
    id: 'prop.www-authenticate',
    suite: 'properties',
    title:
      'WWW-Authenticate: arbitrary headers; generated challenges with quoted values; 20k params, 40k backslashes, 50k commas',
    outcome:
      'never throws; challenges parse back exactly; the huge ones parse to what they say (2 × 1000 runs)',
    inputs: 2003,
  },
  {
    id: 'prop.documents',
    suite: 'properties',
    title:
      'manifest validators: arbitrary bytes and JSON; generated manifests; broken sizes; duplicate keys spliced in (escaped too)',
    outcome:
      'document or coded refusal only; layers kept; MANIFEST_INVALID; duplicates always found (4 × 1000 runs)',
    inputs: 4000,
  },

  {
    id: 'fault.resets',
    suite: 'faults',
    title: 'four TCP resets at seeded random offsets of the blob',
    outcome: 'byte-identical; each reconnect resumes with Range',
    faults: 4,
  },
  {
    id: 'fault.429-retry-after',
    suite: 'faults',
    title: '429 with `Retry-After: 1` on the manifest',
    outcome:
      'byte-identical; the manifest asked again after the wait Retry-After set (1000 ms, from the log)',
    faults: 1,
  },
  {
    id: 'fault.429-bare',
    suite: 'faults',
    title: 'two 429s without Retry-After on the blob',
    outcome: 'byte-identical (backoff)',
    faults: 2,
  },
  {
    id: 'fault.5xx-burst',
    suite: 'faults',
    title: '503 503 on the manifest; 502 502 503 on the blob',
    outcome: 'byte-identical',
    faults: 5,
  },
  {
    id: 'fault.5xx-exhausted',
    suite: 'faults',
    title: '503 on every manifest request',
    outcome: 'SERVER_ERROR after the retries; nothing at the output or in the cache',
    faults: 5,
  },
  {
    id: 'fault.stall',
    suite: 'faults',
    title: 'body stalls after 1 MiB (body timeout 1 s)',
    outcome: 'byte-identical; the body timeout ended the read at 1 MiB and the pull resumed there with Range',
    faults: 1,
  },
  {
    id: 'fault.early-end',
    suite: 'faults',
    title: 'body ends early (clean close) twice, at ⅓ and ⅔',
    outcome: 'byte-identical; three requests, each resuming at or before the cut',
    faults: 2,
  },
  {
    id: 'fault.flipped',
    suite: 'faults',
    title: 'one flipped byte in the blob, then a clean pull into the same cache',
    outcome: 'DIGEST_MISMATCH, no entry or partial kept; the next pull downloads afresh, byte-identical',
    faults: 1,
  },
  {
    id: 'fault.manifest-flipped',
    suite: 'faults',
    title:
      'a flipped byte in the index fetched by tag (Docker-Content-Digest check), then in the manifest fetched by digest',
    outcome:
      'DIGEST_MISMATCH both times (digests are checked before the JSON is parsed); no blob fetched, nothing kept',
    faults: 2,
  },
  {
    id: 'fault.redirect-chain',
    suite: 'faults',
    title: 'blob → 307 storage host → 307 → 307 → 307 → 200',
    outcome: 'byte-identical',
    faults: 4,
  },
  {
    id: 'fault.redirect-loop',
    suite: 'faults',
    title: 'endless 307s',
    outcome: 'UNEXPECTED_RESPONSE after 10 hops; nothing kept',
    faults: 11,
  },
  {
    id: 'fault.restart',
    suite: 'faults',
    title: 'registry restart mid-blob (connections dropped, port closed 300 ms)',
    outcome: 'byte-identical; resumed with Range',
    faults: 2,
  },
  {
    id: 'fault.resets-exhausted',
    suite: 'faults',
    title: 'body ends at 1 MiB, then resets on every request; then a clean pull into the same cache',
    outcome:
      'NETWORK after 5 × 5 retries; the verified 1 MiB partial is kept and the next pull fetches only the rest',
    faults: 26,
  },

  {
    id: 'secrets.basic',
    suite: 'secrets',
    title:
      'docker-registry with htpasswd Basic: --creds (with --json, JSON progress), --authfile, REGISTRY_AUTH_FILE, a wrong password twice; all with --debug',
    outcome:
      'byte-identical ×3, UNAUTHORIZED ×2 (exit 4); neither password nor its Basic encoding in any output or cache file',
    scanned: 5,
  },
  {
    id: 'secrets.token',
    suite: 'secrets',
    title: 'docker-registry with token auth: the same five runs',
    outcome: 'byte-identical ×3, UNAUTHORIZED ×2; no password and no JWT in any output or cache file',
    scanned: 5,
  },
  {
    id: 'secrets.redirect-basic',
    suite: 'secrets',
    title: 'fake registry with Basic auth redirecting the blob to another host',
    outcome:
      'byte-identical; the storage host gets no Authorization; no credential in debug logs, the result or the cache',
    faults: 1,
    scanned: 1,
  },
  {
    id: 'secrets.redirect-bearer',
    suite: 'secrets',
    title: 'fake registry with bearer tokens redirecting the blob to another host',
    outcome:
      'byte-identical; the storage host gets no Authorization; no token in debug logs, the result or the cache',
    faults: 1,
    scanned: 1,
  },

  {
    id: 'crash.manifest',
    suite: 'crash',
    title: 'SIGKILL while the disk manifest is being fetched',
    outcome: 'no output; the next run byte-identical, nothing stray',
    kills: 1,
  },
  {
    id: 'crash.blob',
    suite: 'crash',
    title: 'SIGKILL with half the blob fetched',
    outcome:
      "no output (the dead run's temp file is swept by the next); the next run resumes at the partial and fetches only the rest",
    kills: 1,
  },
  {
    id: 'crash.decompress',
    suite: 'crash',
    title: 'SIGKILL halfway through decompressing a cached blob',
    outcome: 'no output; the next run is a cache hit with no blob request',
    kills: 1,
  },
  {
    id: 'crash.commit',
    suite: 'crash',
    title: 'SIGKILL between the cache commit and the output rename',
    outcome: 'no output, the blob committed and verified; the next run is a cache hit with no blob request',
    kills: 1,
  },
  {
    id: 'crash.random',
    suite: 'crash',
    title:
      'six SIGKILLs at seeded random moments (0–1.5 s into the blob transfer) of slow pulls into one cache',
    outcome:
      'output absent or complete after each, cache verified; the final run byte-identical, nothing stray',
    kills: 6,
  },

  {
    id: 'conc.same',
    suite: 'concurrency',
    title: '8 CLI pulls of one image into one empty cache at once; 2 `cache prune` alongside',
    outcome: 'all byte-identical; the blob downloaded once; `cache ls` = re-hash',
    pulls: 8,
    downloads: 1,
  },
  {
    id: 'conc.mixed',
    suite: 'concurrency',
    title: '4 + 4 CLI pulls of two images into one empty cache at once; `cache prune` alongside',
    outcome: 'all byte-identical; each blob downloaded once; `cache ls` = re-hash',
    pulls: 8,
    downloads: 2,
  },
  {
    id: 'conc.prune-all',
    suite: 'concurrency',
    title: '6 CLI pulls of two images; 3 `cache prune --all` alongside',
    outcome: 'all byte-identical (entries in use are kept); `cache ls` = re-hash; no partial left',
    pulls: 6,
  },

  {
    id: 'layout.fifo',
    suite: 'hostile-layout',
    title:
      'index.json, oci-layout, the manifest, the disk blob and a blob named by @digest as FIFOs; a store opened on a FIFO index.json',
    outcome: 'LAYOUT_FILE_INVALID (no open() blocks)',
    refused: 6,
  },
  {
    id: 'layout.char-device',
    suite: 'hostile-layout',
    title: 'index.json a symlink to a zero character device; the disk and manifest blobs zero devices',
    outcome: 'LAYOUT_FILE_INVALID (nothing read)',
    refused: 3,
  },
  {
    id: 'layout.directory-blob',
    suite: 'hostile-layout',
    title: 'the disk blob and the manifest blob are directories',
    outcome: 'LAYOUT_FILE_INVALID naming the path',
    refused: 2,
  },
  {
    id: 'layout.symlink-out',
    suite: 'hostile-layout',
    title: 'index.json and the disk blob are symlinks to valid copies outside the layout',
    outcome: 'LAYOUT_FILE_INVALID',
    refused: 2,
  },
  {
    id: 'layout.huge-marker',
    suite: 'hostile-layout',
    title: '1 MiB oci-layout file',
    outcome: 'LAYOUT_VERSION_UNSUPPORTED (checked before reading)',
    refused: 1,
  },
  {
    id: 'doc.descriptor-fields',
    suite: 'hostile-layout',
    title:
      'layer descriptors with data `{"length":1500000000}`, data 12345, data not base64, too short or of another digest, urls a string, artifactType a number, an annotation a number, platform a string or with a numeric variant; an index.json entry with platform os.features a string',
    outcome: 'MANIFEST_INVALID ×10 naming the field; LAYOUT_INDEX_INVALID (nothing decoded)',
    refused: 11,
  },
  {
    id: 'doc.descriptor-registry',
    suite: 'hostile-layout',
    title: 'the data-object and data-number manifests served by the fake registry',
    outcome: 'MANIFEST_INVALID (not PLUGIN_FAILED, nothing allocated)',
    refused: 2,
  },
  {
    id: 'doc.fan-out',
    suite: 'hostile-layout',
    title:
      'index.json lists index X 300 times, X lists Y 300 times, Y 300 entries (~100 KB, 27 million paths); the same disk listed 10001 times, pulled and copied with --all',
    outcome:
      'NO_MATCHING_DISK after walking each index once; copy --all copies 300 manifests once each; INDEX_TOO_LARGE naming the 10000 limit (pull and copy)',
    refused: 3,
  },
  {
    id: 'storage.corrupt-head',
    suite: 'storage',
    title:
      "cache entry's first 16 bytes overwritten (a zstd blob layer; the disk inside a one-file tar), pulled offline then online",
    outcome:
      'offline CACHE_CORRUPT (exit 5, the entry evicted, no output); online evicted and fetched again, byte-identical',
    refused: 2,
  },
  {
    id: 'storage.output-full',
    suite: 'storage',
    title: 'output on a full 2 MiB tmpfs: zstd and xz, each with the child and the in-process decoder',
    outcome: 'OUTPUT_FAILED (exit 8) naming the filesystem, free bytes and bytes written; nothing left on it',
    refused: 4,
  },
  {
    id: 'storage.cache-full',
    suite: 'storage',
    title: 'cache on a full 2 MiB tmpfs (child and in-process decoder)',
    outcome:
      "CACHE_FAILED (exit 8) naming the filesystem and the blob's size; no output, no partial, cache verified",
    refused: 2,
  },
  {
    id: 'storage.cache-dir',
    suite: 'storage',
    title:
      '`--cache-dir` a plain file, a dangling symlink, a path under a plain file, on a read-only bind mount',
    outcome: 'CACHE_FAILED (exit 8) naming the directory and what is wrong with it; no output',
    refused: 4,
  },
  {
    id: 'storage.prune-readonly',
    suite: 'storage',
    title: '`cache prune --all` on a cache mounted read-only',
    outcome: 'CACHE_FAILED (exit 8, read-only filesystem named); `cache ls` still lists the entry',
    refused: 1,
  },
  {
    id: 'storage.stale-temps',
    suite: 'storage',
    title:
      "another user's stale output temps beside the output (a directory; an immutable file) and a plain file at the blob's lock path",
    outcome: 'byte-identical; what cannot be removed is skipped, the lock debris replaced',
  },
  {
    id: 'storage.special-output',
    suite: 'storage',
    title:
      'a character device (mknod c 1 3), a FIFO and a unix socket at `-o`, each with and without `--replace`',
    outcome:
      'OUTPUT_NOT_FILE (exit 8) naming the path and its type; each node still what it was, no temp file',
    refused: 6,
  },
  {
    id: 'storage.block-device',
    suite: 'storage',
    title:
      'a loop device at `-o` (a node for it in the temp dir): `--replace` with child and in-process decoders, a device smaller than the disk (both decoders), no `--replace`',
    outcome:
      'written in place, byte-identical, zero runs as zeros, bytes past the disk untouched; too small: OUTPUT_FAILED (exit 8) naming the device size; without --replace OUTPUT_EXISTS, nothing written',
    refused: 3,
  },
  {
    id: 'codec.trailing-data',
    suite: 'codecs',
    title:
      '4 codecs × 5 tails (zeros, garbage, zeros then garbage, a second stream, a cut second stream), child and in-process',
    outcome:
      'both modes agree on every input: the same bytes, or DECOMPRESS_TRAILING_DATA / DECOMPRESS_CORRUPT / DECOMPRESS_TRUNCATED with no output',
    refused: 26,
  },
  {
    id: 'net.certificates',
    suite: 'network',
    title: 'self-signed, unknown CA, another host name and expired certificates on a loopback HTTPS registry',
    outcome:
      'TLS naming the host and the reason, the hint naming certs.d, --cert-dir and --tls-verify=false; no plain-HTTP fallback',
    refused: 4,
  },
  {
    id: 'net.proxies',
    suite: 'network',
    title:
      'an HTTPS proxy answering 502 and 407 to CONNECT (with credentials in its URL), and one that is down',
    outcome:
      'PROXY (502 retried, 407 not) / NETWORK naming the proxy without its password; never INTERRUPTED',
    refused: 3,
  },
];
