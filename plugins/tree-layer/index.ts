/**
 * The tree-layer plugin: gives an orchestrator the tree export (a tree as a layer, a diff layer on
 * a base, config and manifest) for the kinds that pack trees (`pack --rootfs`). The layer and
 * diff modules load on first use. The modules' API is api.ts.
 */
import type { Orchestrator, Plugin } from 'ocipull';
import { buildConfig, buildManifest } from './config.js';
import { setTreeExporter } from './exporter.js';

export { getTreeExporter, type TreeExporter } from './exporter.js';

const PLUGIN_NAME = 'ocipull-plugin-tree-layer';

/** Makes the tree export available as `getTreeExporter(orchestrator)`; taps no core hook. */
export default class TreeLayerPlugin implements Plugin {
  readonly name = PLUGIN_NAME;

  apply(orchestrator: Orchestrator): void {
    const log = orchestrator.log;
    setTreeExporter(orchestrator, {
      treeLayer: async (dir, options = {}) =>
        (await import('./layer.js')).treeLayer(dir, { log, ...options }),
      diffLayer: async (baseDir, dir, options = {}) =>
        (await import('./diff.js')).diffLayer(baseDir, dir, { log, ...options }),
      buildConfig,
      buildManifest,
    });
  }
}
