/**
 * The public API of ocipull: what built-in and third-party plugins import (`from 'ocipull'`) and
 * what library users call (`createOrchestrator`, see docs/library.md). Only what a plugin or a
 * library user needs is here; test/core/public-api.test.ts keeps the list.
 */

export type { CacheExportRequest, CacheExportResult, CacheListResult } from './cache-commands.js';
export type { CodecHints, CodecRegistry } from './codecs.js';
export { checkDiskFormat } from './disk-format.js';
export { CODES, type CodeInfo, type ErrorCode, EXIT, exitCodeFor } from './errors/codes.js';
export {
  type ErrorDetails,
  isOcipullError,
  OcipullError,
  toOcipullError,
  wrapPluginError,
} from './errors/errors.js';
export type { Hooks } from './hooks.js';
export type { InspectEntry, InspectReport, InspectRequest } from './inspect.js';
export type { KindRegistry } from './kinds/registry.js';
export type * from './kinds/types.js';
export { type LayoutFile, openLayoutFile, readLayoutFile } from './layout/files.js';
export { createExclusive, renameReplacing, tempName } from './layout/portable.js';
export {
  checkLayoutVersion,
  checkTag,
  layoutBlobPath,
  layoutTags,
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
export { digestOf, isDigest, type ParsedDigest, parseDigest } from './oci/digest.js';
export { MAX_DOCUMENT_BYTES, MAX_INDEX_ENTRIES, parseDocument } from './oci/documents.js';
export {
  Annotations,
  EMPTY_DESCRIPTOR,
  isIndexMediaType,
  isManifestMediaType,
  isTarLayerMediaType,
  MANIFEST_ACCEPT,
  MediaTypes,
} from './oci/media-types.js';
export { normalizeArch, sameArch } from './oci/platform.js';
export { Orchestrator, type OrchestratorOptions } from './orchestrator.js';
export {
  byteCounter,
  type ChildDecoder,
  type DecodeFailure,
  type DecoderMode,
  decodeError,
  decodeInProcess,
  decoderCommand,
  decodeWithChild,
  findExecutable,
  type InProcessDecoder,
  type InProcessOptions,
  type InputTail,
  trackInput,
} from './pipeline/decoder.js';
export { BackgroundFlush } from './pipeline/flush.js';
export { OutputFile } from './pipeline/output.js';
export { peek } from './pipeline/peek.js';
export type { PullRequest } from './pipeline/pull.js';
export { parseSourceRef, readAll } from './pipeline/source.js';
export { describeNoSpace, spaceErrno } from './pipeline/space.js';
export { type CopyRequest, type CopyResult, runCopy } from './publish/copy.js';
export type { PackCodec } from './publish/machine-os.js';
export { type MergeResult, type MergeStrategy, mergeIndex } from './publish/merge.js';
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
export type * from './types.js';
