/**
 * The tree export as modules: a tree as a layer (layer.ts), the layer of its changes on a base
 * tree (diff.ts), the config and manifest that carry them (config.ts), and the exporter the plugin
 * gives an orchestrator (exporter.ts). The plugin itself is index.ts.
 */

export * from './config.js';
export * from './diff.js';
export { getTreeExporter, type TreeExporter } from './exporter.js';
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
