import { resolve } from 'node:path';
import { cosmiconfig } from 'cosmiconfig';
import { OcipullError } from '../errors/errors.js';
import type { LoadedConfig } from './types.js';

export const MODULE_NAME = 'ocipull';

/** The files cosmiconfig looks for, in order, in each directory from the working directory up. */
export const SEARCH_PLACES = [
  'package.json',
  '.ocipullrc',
  '.ocipullrc.json',
  '.ocipullrc.yaml',
  '.ocipullrc.yml',
  '.ocipullrc.js',
  '.ocipullrc.cjs',
  '.ocipullrc.mjs',
  'ocipull.config.js',
  'ocipull.config.cjs',
  'ocipull.config.mjs',
  'ocipull.config.ts',
  'ocipull.config.json',
];

/** Step 1: find and read the config (or read the one --config names). */
export async function loadConfigFile(options: { configPath?: string; cwd?: string }): Promise<LoadedConfig> {
  const explorer = cosmiconfig(MODULE_NAME, {
    searchPlaces: SEARCH_PLACES,
    searchStrategy: 'global',
  });
  try {
    const found = options.configPath
      ? await explorer.load(resolve(options.cwd ?? process.cwd(), options.configPath))
      : await explorer.search(options.cwd ?? process.cwd());
    if (!found || found.isEmpty) return { file: found?.filepath, raw: {} };
    return { file: found.filepath, raw: found.config };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const file = options.configPath ?? 'configuration';
    throw new OcipullError(
      'CONFIG_LOAD_FAILED',
      code === 'ENOENT' ? `${file} does not exist` : `cannot read ${file}: ${(error as Error).message}`,
      { cause: error, hint: 'JSON, YAML, or a JS/TS module exporting an object' },
    );
  }
}
