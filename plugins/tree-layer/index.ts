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

import type { Orchestrator, Plugin } from 'ocipull';
import { buildConfig, buildManifest } from './config.js';
import { type DiffLayer, type DiffOptions, diffLayer } from './diff.js';
import { type TreeLayer, type TreeLayerOptions, treeLayer } from './layer.js';

const PLUGIN_NAME = 'ocipull-plugin-tree-layer';

/** The tree export functions bound to one orchestrator (its logger by default). */
export interface TreeExporter {
  treeLayer(dir: string, options?: TreeLayerOptions): Promise<TreeLayer>;
  diffLayer(baseDir: string, dir: string, options?: DiffOptions): Promise<DiffLayer>;
  buildConfig: typeof buildConfig;
  buildManifest: typeof buildManifest;
}

const exporters = new WeakMap<Orchestrator, TreeExporter>();

/** What the plugin gave `orchestrator` (undefined when it is not applied): for kinds that pack trees. */
export function getTreeExporter(orchestrator: Orchestrator): TreeExporter | undefined {
  return exporters.get(orchestrator);
}

/**
 * Makes the tree export (a tree as a layer, a diff layer on a base, config and manifest)
 * available to the kinds that pack trees (`getTreeExporter(orchestrator)`); taps no core hook.
 */
export default class TreeLayerPlugin implements Plugin {
  readonly name = PLUGIN_NAME;

  apply(orchestrator: Orchestrator): void {
    const log = orchestrator.log;
    exporters.set(orchestrator, {
      treeLayer: (dir, options = {}) => treeLayer(dir, { log, ...options }),
      diffLayer: (baseDir, dir, options = {}) => diffLayer(baseDir, dir, { log, ...options }),
      buildConfig,
      buildManifest,
    });
  }
}
