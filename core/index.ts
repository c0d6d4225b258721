/**
 * The public API of ocipull: what built-in and third-party plugins import (`from 'ocipull'`).
 */
export { Orchestrator, type OrchestratorOptions, defaultCacheDir } from './orchestrator.js';
export type { Hooks } from './hooks.js';
export { CodecRegistry, type CodecHints } from './codecs.js';
export { createLogger } from './log.js';
export type { Settings } from './settings.js';
export { DEFAULT_SETTINGS } from './settings.js';
export { OcipullError, isOcipullError, fail, wrapPluginError, toOcipullError, isAbortError, type ErrorDetails } from './errors/errors.js';
export { CODES, EXIT, exitCodeFor, type ErrorCode, type CodeInfo } from './errors/codes.js';
export { DigestVerifier, parseDigest, isDigest, digestOf, createDigester, verifyBytes, type ParsedDigest } from './oci/digest.js';
export { parseDocument, checkDescriptor, MAX_DOCUMENT_BYTES } from './oci/documents.js';
export {
  MediaTypes,
  Annotations,
  EMPTY_DESCRIPTOR,
  MANIFEST_ACCEPT,
  INDEX_MEDIA_TYPES,
  MANIFEST_MEDIA_TYPES,
  isIndexMediaType,
  isManifestMediaType,
  isTarLayerMediaType,
} from './oci/media-types.js';
export { normalizeArch, unameArch, sameArch, hostArch } from './oci/platform.js';
export { isTransient } from './pipeline/blob-stream.js';
export { peek } from './pipeline/peek.js';
export { parseSourceRef, readAll } from './pipeline/source.js';
export { majorMinor, type PullRequest } from './pipeline/pull.js';
export type * from './types.js';
