/**
 * The public API of ocipull: what built-in and third-party plugins import (`from 'ocipull'`) and
 * what library users call (`createOrchestrator`, see docs/library.md). Only what a plugin or a
 * library user needs is here; test/core/public-api.test.ts keeps the list.
 */

export { builtinCodecs, codecsOf } from './builtin-codecs.js';
export type { CacheExportRequest, CacheExportResult, CacheListResult } from './cache-commands.js';
export { decoderStream, type StreamDecoderParts } from './codec-stream.js';
export { type CodecHints, type CodecRegistry, layerMediaType, titleExtension } from './codecs.js';
export { checkDiskFormat, DISK_HEAD_BYTES } from './disk-format.js';
export { CODES, type CodeInfo, type ErrorCode, EXIT, exitCodeFor } from './errors/codes.js';
export {
  type ErrorDetails,
  isAbortError,
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
export { decodeInWorker, type WorkerDecoderSpec, workerDecoder } from './pipeline/decode-worker.js';
export {
  byteCounter,
  type ChildDecoder,
  type DecodeFailure,
  type DecoderMode,
  decodeError,
  decodeInProcess,
  decoderCommand,
  decodeWithChild,
  expansionError,
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
export { describeNoSpace, formatSize, spaceErrno } from './pipeline/space.js';
export type { CopyRequest, CopyResult } from './publish/copy.js';
export { decodedHead } from './publish/disk-head.js';
export {
  checkTitle,
  defaultTitle,
  diskFormat,
  HYPERVISOR_FORMATS,
  nameFormat,
  type PackCodec,
} from './publish/machine-os.js';
export {
  type EntryKey,
  type MergeResult,
  type MergeStrategy,
  mergeIndex,
  platformKey,
} from './publish/merge.js';
export type { PackDisk, PackedDisk, PackRequest, PackResult } from './publish/pack.js';
export { runCopy, runPack } from './publish/run.js';
export type { TransferStats } from './publish/transfer.js';
export { redactSecrets, secretsInArguments, urlForMessages } from './secrets.js';
export { DEFAULT_SETTINGS, type Settings } from './settings.js';
export { parseSize } from './size.js';
export { suggestion } from './suggest.js';
export type * from './types.js';
