import { promises as fsp } from 'node:fs';
import { createLogger, Orchestrator, type Settings } from 'ocipull';
import { exists, useBuiltins } from '../support/files.js';

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
  return useBuiltins(new Orchestrator({ log: createLogger('silent'), settings }), plugins);
}

/** Files in `dir` other than `keep` (temp files left behind by a failed write, for instance). */
export async function strayFiles(dir: string, keep: string[] = []): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((name) => !keep.includes(name));
}

export { exists };
