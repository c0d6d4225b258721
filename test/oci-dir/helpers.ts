import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLogger, Orchestrator, type Plugin, type Settings } from 'ocipull';
import { repoRoot } from '../support/paths.js';

/** What a pull from a layout needs (the base preset without the registry and the cache). */
export const PULL_PLUGINS = [
  'oci-dir',
  'disk-select',
  'unpack-blob',
  'unpack-tar',
  'codec-zstd',
  'codec-xz',
  'codec-gzip',
  'codec-bzip2',
  'codec-none',
];

/** An orchestrator with the built-in plugins applied (loaded from dist/ as the CLI loads them). */
export async function pullOrchestrator(
  settings: Partial<Settings>,
  plugins = PULL_PLUGINS,
): Promise<Orchestrator> {
  const orchestrator = new Orchestrator({ log: createLogger('silent'), settings });
  for (const name of plugins) {
    const url = pathToFileURL(join(repoRoot, 'dist', 'plugins', name, 'index.js')).href;
    const { default: PluginClass } = (await import(url)) as { default: new () => Plugin };
    orchestrator.use(new PluginClass());
  }
  return orchestrator;
}

/** Files in `dir` other than `keep` (temp files left behind by a failed write, for instance). */
export async function strayFiles(dir: string, keep: string[] = []): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((name) => !keep.includes(name));
}

export async function exists(path: string): Promise<boolean> {
  return fsp.access(path).then(
    () => true,
    () => false,
  );
}
