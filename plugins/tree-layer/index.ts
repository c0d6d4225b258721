/**
 * A tree as an image: its layer (layer.ts), the layer of its changes on a base tree (diff.ts),
 * and the config and manifest that carry them (config.ts). Used by `pack --rootfs`.
 */

export * from './config.js';
export * from './diff.js';
export * from './layer.js';
export * from './media.js';
export {
  comparePaths,
  type OwnerRecord,
  type OwnersHook,
  type ScanOptions,
  scanTree,
  type TreeEntry,
} from './scan.js';
export { encodeHeader, type TarHeader, type TarType } from './tar.js';
