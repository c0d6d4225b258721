/**
 * The codec test helpers now live in the shipped conformance kit (core/testkit/codec.ts, the
 * package export `ocipull/testkit/codec`); re-exported here for the suites that use them.
 */
export {
  allocated,
  type ConformanceOptions,
  codecConformance,
  type DecodeOptions,
  decodeFile,
  diskBytes,
  seededBytes,
  sh,
  sha256,
} from '../../core/testkit/codec.js';
