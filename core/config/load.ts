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
    if (code === 'ENOENT') {
      throw new OcipullError(
        'CONFIG_LOAD_FAILED',
        `${options.configPath ?? 'configuration'} does not exist`,
        {
          cause: error,
          hint: 'JSON, YAML, or a JS/TS module exporting an object',
        },
      );
    }
    const { file, reason } = describeLoadError(error, options.configPath);
    throw new OcipullError('CONFIG_LOAD_FAILED', `cannot read ${file}: ${reason}`, {
      cause: error,
      hint: 'JSON, YAML, or a JS/TS module exporting an object',
      data: { file },
    });
  }
}

const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

/**
 * A loader's error, readable: cosmiconfig prefixes `JSON Error in FILE:` by reassigning
 * `message`, and parse-json's error appends its code frame every time `message` is read, so the
 * raw text carries the frame twice, in colour, plus a `while parsing '…'` excerpt of the file
 * squashed onto one line. Keep the file (also for a config found by search), the parser's reason
 * and one plain frame.
 */
export function describeLoadError(error: unknown, configPath?: string): { file: string; reason: string } {
  const e = error as { message?: unknown; codeFrame?: unknown; filepath?: unknown; path?: unknown };
  let message = String(e.message ?? error);
  const frame = typeof e.codeFrame === 'string' ? e.codeFrame : undefined;
  if (frame) message = message.split(frame).join('');
  message = message.replace(ANSI, '');
  const prefixed = /^(?:JSON|YAML|TypeScript|JS)? ?Error in (.+?):\s*\n/.exec(message);
  if (prefixed) message = message.slice(prefixed[0].length);
  // The reason is the first line; a loader's own multi-line excerpt (js-yaml's) stays as it is.
  const [head = '', ...rest] = message.replace(/^\s*\n/, '').split('\n');
  const tail = rest.join('\n').replace(/\s+$/, '');
  const first = head.replace(/ while parsing (['"]).*$/, '').trim();
  const reason = tail ? `${first}\n${tail}` : first;
  const named = [configPath, prefixed?.[1], e.filepath, e.path].find((f) => typeof f === 'string' && f);
  const file = (named as string | undefined) ?? 'configuration';
  const plainFrame = frame?.replace(ANSI, '').replace(/\s+$/, '');
  return { file, reason: plainFrame ? `${reason}\n\n${plainFrame}` : reason };
}
