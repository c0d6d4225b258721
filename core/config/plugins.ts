import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OcipullError } from '../errors/errors.js';
import type { Plugin, PluginExport } from '../types.js';
import type { PluginEntry, PluginSpec } from './types.js';

export const PLUGIN_PREFIX = 'ocipull-plugin-';
/** Compiled built-in plugins: dist/plugins/<folder>/index.js, named ocipull-plugin-<folder>. */
const BUILTIN_DIR = fileURLToPath(new URL('../../plugins/', import.meta.url));

export function normalizePluginEntry(entry: PluginEntry, baseDir: string, from: string): PluginSpec {
  const [name, options] = typeof entry === 'string' ? [entry, {}] : [entry[0], entry[1] ?? {}];
  return { name, options, baseDir, from };
}

function isPathSpec(name: string): boolean {
  return name.startsWith('.') || isAbsolute(name);
}

/** The canonical name of a plugin spec (short names get the ocipull-plugin- prefix). */
export function canonicalPluginName(name: string): string {
  if (isPathSpec(name) || name.startsWith('@') || name.startsWith(PLUGIN_PREFIX)) return name;
  return `${PLUGIN_PREFIX}${name}`;
}

/** Merge repeated specs: the first position wins, later options are laid over earlier ones. */
export function mergePluginSpecs(specs: PluginSpec[]): PluginSpec[] {
  const byKey = new Map<string, PluginSpec>();
  for (const spec of specs) {
    const key = isPathSpec(spec.name) ? resolve(spec.baseDir, spec.name) : canonicalPluginName(spec.name);
    const seen = byKey.get(key);
    byKey.set(key, seen ? { ...seen, options: { ...seen.options, ...spec.options } } : spec);
  }
  return [...byKey.values()];
}

function resolvePackage(request: string, baseDir: string): string | undefined {
  for (const dir of [baseDir, process.cwd()]) {
    try {
      return createRequire(join(dir, 'noop.js')).resolve(request);
    } catch {
      // ESM-only packages may not resolve through require: look for the folder itself.
      let current = resolve(dir);
      for (;;) {
        const candidate = join(current, 'node_modules', request);
        if (existsSync(join(candidate, 'package.json'))) return candidate;
        const parent = resolve(current, '..');
        if (parent === current) break;
        current = parent;
      }
    }
  }
  return undefined;
}

/** Where a spec's module is: a path, a built-in, or an npm package (prefixed name first). */
export function locatePlugin(spec: PluginSpec): { url: string; tried: string[] } {
  const tried: string[] = [];
  if (isPathSpec(spec.name)) {
    const file = resolve(spec.baseDir, spec.name);
    tried.push(file);
    if (existsSync(file)) return { url: pathToFileURL(file).href, tried };
    throw notFound(spec, tried);
  }
  const candidates =
    spec.name.startsWith(PLUGIN_PREFIX) || spec.name.startsWith('@')
      ? [spec.name]
      : [`${PLUGIN_PREFIX}${spec.name}`, spec.name];
  for (const candidate of candidates) {
    if (candidate.startsWith(PLUGIN_PREFIX)) {
      const builtin = join(BUILTIN_DIR, candidate.slice(PLUGIN_PREFIX.length), 'index.js');
      tried.push(`built-in ${candidate}`);
      if (existsSync(builtin)) return { url: pathToFileURL(builtin).href, tried };
    }
    tried.push(`npm package ${candidate}`);
    const found = resolvePackage(candidate, spec.baseDir);
    if (found)
      return {
        url: existsSync(join(found, 'package.json'))
          ? pathToFileURL(join(found, 'package.json')).href
          : pathToFileURL(found).href,
        tried,
      };
  }
  throw notFound(spec, tried);
}

function notFound(spec: PluginSpec, tried: string[]): OcipullError {
  const install = isPathSpec(spec.name) ? undefined : canonicalPluginName(spec.name);
  return new OcipullError(
    'PLUGIN_NOT_FOUND',
    `plugin "${spec.name}" (named in ${spec.from}) is not installed`,
    {
      hint: install
        ? `install it: npm install ${install} (tried ${tried.join(', ')})`
        : `no file at ${tried.join(', ')}`,
      data: { plugin: install ?? spec.name },
    },
  );
}

async function importPlugin(url: string): Promise<unknown> {
  if (url.endsWith('/package.json')) {
    // An ESM-only package found by folder: import its main entry through its own name resolution.
    const dir = fileURLToPath(new URL('.', url));
    const require = createRequire(url);
    const pkg = require('./package.json') as { exports?: unknown; main?: string; module?: string };
    const entry =
      typeof pkg.exports === 'string'
        ? pkg.exports
        : ((pkg.exports as Record<string, unknown>)?.['.'] as string | undefined);
    const main = typeof entry === 'string' ? entry : (pkg.main ?? 'index.js');
    return import(pathToFileURL(join(dir, main)).href);
  }
  return import(url);
}

function instantiate(exported: unknown, spec: PluginSpec): Plugin {
  const candidate = (exported as { default?: unknown })?.default ?? exported;
  let plugin: unknown = candidate;
  if (typeof candidate === 'function') {
    const fn = candidate as PluginExport & ((o: Record<string, unknown>) => Plugin);
    const isClass =
      /^class\b/.test(Function.prototype.toString.call(fn)) ||
      typeof (fn as { prototype?: { apply?: unknown } }).prototype?.apply === 'function';
    plugin = isClass
      ? new (fn as new (o: Record<string, unknown>) => Plugin)(spec.options)
      : fn(spec.options);
  }
  const p = plugin as Partial<Plugin> | undefined;
  if (!p || typeof p.name !== 'string' || typeof p.apply !== 'function') {
    throw new OcipullError(
      'PLUGIN_INVALID',
      `plugin "${spec.name}" (named in ${spec.from}) does not export a plugin`,
      {
        hint: 'export default a class or factory whose instances have `name` and `apply(orchestrator)`, or such an object',
      },
    );
  }
  return p as Plugin;
}

/** Load and instantiate the plugins, in order. */
export async function loadPlugins(specs: PluginSpec[]): Promise<Plugin[]> {
  const plugins: Plugin[] = [];
  for (const spec of specs) {
    const { url } = locatePlugin(spec);
    let exported: unknown;
    try {
      exported = await importPlugin(url);
    } catch (error) {
      throw new OcipullError(
        'PLUGIN_INVALID',
        `plugin "${spec.name}" (named in ${spec.from}) failed to load: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    plugins.push(instantiate(exported, spec));
  }
  return plugins;
}
