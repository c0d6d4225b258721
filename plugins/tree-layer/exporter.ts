import type { Orchestrator } from 'ocipull';
import type { buildConfig, buildManifest } from './config.js';
import type { DiffLayer, DiffOptions } from './diff.js';
import type { TreeLayer, TreeLayerOptions } from './layer.js';

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

export function setTreeExporter(orchestrator: Orchestrator, exporter: TreeExporter): void {
  exporters.set(orchestrator, exporter);
}
