/**
 * The public API of ocipull: what built-in and third-party plugins import (`from 'ocipull'`).
 */

export type {
  CacheExportRequest,
  CacheExportResult,
  CacheListResult,
} from './cache-commands.js';
export { type CodecHints, CodecRegistry } from './codecs.js';
export { checkDiskFormat, DISK_HEAD_BYTES, DISK_MAGICS, diskFormatOfBytes } from './disk-format.js';
export { CODES, type CodeInfo, type ErrorCode, EXIT, exitCodeFor } from './errors/codes.js';
export {
  type ErrorDetails,
  fail,
  isAbortError,
  isOcipullError,
  OcipullError,
  toOcipullError,
  wrapPluginError,
} from './errors/errors.js';
export { type Hooks, hasTaps, tappedKeys } from './hooks.js';
export type { InspectEntry, InspectReport, InspectRequest } from './inspect.js';
export { KindRegistry } from './kinds/registry.js';
export type * from './kinds/types.js';
export { type LayoutFile, openLayoutFile, readLayoutFile } from './layout/files.js';
export { createExclusive, renameReplacing, tempName } from './layout/portable.js';
export {
  checkLayoutVersion,
  checkTag,
  LAYOUT_VERSION,
  layoutBlobPath,
  layoutTags,
  parseLayoutIndex,
  readLayoutIndex,
  refName,
} from './layout/read.js';
export { type BlobInfo, LayoutStore } from './layout/store.js';
export {
  type ConfigReport,
  createOrchestrator,
  type FrontEnd,
  type LibraryCopyRequest,
  Ocipull,
  type OrchestratorSetup,
  type ResolvedConfig,
  type TransportOverrides,
} from './library.js';
export { createLogger, printable } from './log.js';
export {
  createDigester,
  DigestVerifier,
  digestOf,
  isDigest,
  type ParsedDigest,
  parseDigest,
  verifyBytes,
} from './oci/digest.js';
export { checkDescriptor, MAX_DOCUMENT_BYTES, MAX_INDEX_ENTRIES, parseDocument } from './oci/documents.js';
export {
  Annotations,
  EMPTY_DESCRIPTOR,
  INDEX_MEDIA_TYPES,
  isIndexMediaType,
  isManifestMediaType,
  isTarLayerMediaType,
  MANIFEST_ACCEPT,
  MANIFEST_MEDIA_TYPES,
  MediaTypes,
} from './oci/media-types.js';
export { hostArch, normalizeArch, sameArch, unameArch } from './oci/platform.js';
export { defaultCacheDir, Orchestrator, type OrchestratorOptions } from './orchestrator.js';
export { isTransient } from './pipeline/blob-stream.js';
export {
  byteCounter,
  type ChildDecoder,
  type DecodeFailure,
  type DecoderMode,
  decodeError,
  decodeInProcess,
  decoderCommand,
  decoderMode,
  decodeWithChild,
  expansionError,
  findExecutable,
  type InProcessDecoder,
  type InProcessOptions,
  type InputTail,
  sliceChunks,
  trackInput,
} from './pipeline/decoder.js';
export { BackgroundFlush } from './pipeline/flush.js';
export { OutputFile } from './pipeline/output.js';
export { peek } from './pipeline/peek.js';
export { majorMinor, type PullRequest } from './pipeline/pull.js';
export { parseSourceRef, readAll } from './pipeline/source.js';
export { describeNoSpace, formatSize, freeBytes, spaceErrno } from './pipeline/space.js';
export { type CopyRequest, type CopyResult, runCopy } from './publish/copy.js';
export { isDestination, openDestination } from './publish/destination.js';
export {
  codecOfBytes,
  defaultTitle,
  diskFormat,
  HYPERVISOR_FORMATS,
  PACK_CODECS,
  type PackCodec,
} from './publish/machine-os.js';
export {
  diskKey,
  MERGE_STRATEGIES,
  type MergeResult,
  type MergeStrategy,
  mergeIndex,
} from './publish/merge.js';
export {
  type PackDisk,
  type PackedDisk,
  type PackRequest,
  type PackResult,
  runPack,
} from './publish/pack.js';
export type { TransferStats } from './publish/transfer.js';
export { redactSecrets, secretsInArguments, urlForMessages } from './secrets.js';
export type { Settings } from './settings.js';
export { DEFAULT_SETTINGS } from './settings.js';
export { didYouMean, distance, suggestion } from './suggest.js';
export type * from './types.js';
