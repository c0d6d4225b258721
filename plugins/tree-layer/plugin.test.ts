/** The plugin record: applied, it hands the orchestrator's logger to the tree export. */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger, Orchestrator } from 'ocipull';
import { treeLayer } from './api.js';
import TreeLayerPlugin, { getTreeExporter } from './index.js';

test('applied, the plugin gives the orchestrator a tree exporter that packs like treeLayer', async () => {
  const orchestrator = new Orchestrator({ log: createLogger('silent') });
  assert.equal(getTreeExporter(orchestrator), undefined);
  const plugin = new TreeLayerPlugin();
  assert.equal(plugin.name, 'ocipull-plugin-tree-layer');
  plugin.apply(orchestrator);
  const exporter = getTreeExporter(orchestrator)!;
  const dir = await fsp.mkdtemp(join(tmpdir(), 'ocipull-tree-plugin-'));
  try {
    await fsp.writeFile(join(dir, 'f'), 'x');
    await fsp.utimes(dir, 1, 1);
    const [a, b] = [
      await exporter.treeLayer(dir, { compress: 'none' }),
      await treeLayer(dir, { compress: 'none' }),
    ];
    assert.equal(a.diffId, b.diffId);
    await Promise.all([a.cleanup(), b.cleanup()]);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
