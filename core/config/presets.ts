import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { OcipullError } from '../errors/errors.js';
import { normalizePluginEntry } from './plugins.js';
import { didYouMean, validatePreset } from './schema.js';
import type { PluginSpec, PresetFile, PresetSettings } from './types.js';

/** Where the built-in presets live (presets/<name>.json at the package root). */
export const PRESET_DIR = fileURLToPath(new URL('../../../presets/', import.meta.url));
export const BUILTIN_PRESETS = ['base', 'qemu', 'applehv', 'libkrun', 'hyperv', 'wsl'] as const;

export interface ExpandedPreset {
  name: string;
  file: string;
  settings: PresetSettings;
  plugins: PluginSpec[];
}

function isPath(name: string): boolean {
  return name.startsWith('.') || isAbsolute(name) || /\.(json|ya?ml)$/.test(name);
}

async function readPreset(name: string, baseDir: string): Promise<{ file: string; preset: PresetFile }> {
  const file = isPath(name) ? resolve(baseDir, name) : resolve(PRESET_DIR, `${name}.json`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    const guess = isPath(name) ? undefined : didYouMean(name, [...BUILTIN_PRESETS]);
    throw new OcipullError(
      'PRESET_NOT_FOUND',
      `preset "${name}" not found${isPath(name) ? ` at ${file}` : ''}`,
      {
        hint: `${guess ? `did you mean "${guess}"? ` : ''}built-in presets: ${BUILTIN_PRESETS.join(', ')}; or a path to a .json/.yaml preset file`,
      },
    );
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new OcipullError(
      'PRESET_INVALID',
      `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    );
  }
  // The shipped presets are checked against the schema by the test suite, not on every run.
  const builtIn = !isPath(name) && (BUILTIN_PRESETS as readonly string[]).includes(name);
  return { file, preset: builtIn ? (raw as PresetFile) : await validatePreset(raw, file) };
}

/**
 * Expand presets depth-first in the order written: each preset's `extends` come before it.
 * A preset reached twice is expanded once (the first time); a cycle is an error.
 */
export async function expandPresets(names: string[], baseDir: string): Promise<ExpandedPreset[]> {
  const out: ExpandedPreset[] = [];
  const done = new Set<string>();
  const visit = async (name: string, from: string, trail: string[]) => {
    const { file, preset } = await readPreset(name, from);
    if (trail.includes(file)) {
      throw new OcipullError(
        'PRESET_CYCLE',
        `presets extend each other in a cycle: ${[...trail, file].join(' → ')}`,
      );
    }
    if (done.has(file)) return;
    const parents =
      preset.extends === undefined ? [] : Array.isArray(preset.extends) ? preset.extends : [preset.extends];
    for (const parent of parents) await visit(parent, dirname(file), [...trail, file]);
    done.add(file);
    out.push({
      name,
      file,
      settings: preset.settings ?? {},
      plugins: (preset.plugins ?? []).map((entry) => normalizePluginEntry(entry, dirname(file), file)),
    });
  };
  for (const name of names) await visit(name, baseDir, []);
  return out;
}

/** The preset used when neither the command line nor the config names one. */
export function defaultPresetName(platform: NodeJS.Platform = process.platform): string {
  return platform === 'darwin' ? 'applehv' : platform === 'win32' ? 'wsl' : 'qemu';
}
