/**
 * Where to pull a reference from, in order: mirrors from the config (`mirrors`), then those of
 * containers' registries.conf (`[[registry]]` with `[[registry.mirror]]`, containers-registries.conf(5)),
 * then the origin (possibly rewritten by `location`). A mirror that fails falls through to the next.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { OcipullError } from 'ocipull';
import type { RegistryReference } from './reference.js';

type TomlTable = Record<string, unknown>;

/** smol-toml (spec-complete TOML 1.0), loaded only when a registries.conf exists (~30 ms). */
let tomlModule: Promise<typeof import('smol-toml')> | undefined;
const smolToml = () => {
  tomlModule ??= import('smol-toml');
  return tomlModule;
};

/** Parse TOML; a syntax error is CONFIG_LOAD_FAILED naming the file, line and column. */
export async function parseToml(text: string, file: string): Promise<TomlTable> {
  const { parse, TomlError } = await smolToml();
  try {
    return parse(text) as TomlTable;
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const problem = error.message.split('\n')[0]!.replace(/^Invalid TOML document:\s*/, '');
    const near = error.codeblock
      .split('\n')
      .map((l) => /^\s*(\d+):\s?(.*)$/.exec(l.trimEnd()))
      .filter((m) => m !== null)
      .find((m) => Number(m[1]) === error.line);
    throw new OcipullError(
      'CONFIG_LOAD_FAILED',
      `${file}:${error.line}:${error.column}: not valid TOML: ${problem}`,
      {
        hint: `${near ? `line ${near[1]} reads ${JSON.stringify(near[2]!.trim().slice(0, 120))}; ` : ''}registries.conf is TOML (containers-registries.conf(5)); fix the file or point registriesConf elsewhere`,
        data: { file, line: error.line, column: error.column },
        cause: error,
      },
    );
  }
}

const tables = (value: unknown): TomlTable[] =>
  Array.isArray(value) ? value.filter((v): v is TomlTable => typeof v === 'object' && v !== null) : [];

export interface MirrorEntry {
  location: string;
  insecure?: boolean;
  /** `all` (default), `digest-only`, `tag-only`. */
  pullFromMirror?: string;
}

export interface RegistryEntry {
  prefix: string;
  location: string;
  insecure?: boolean;
  blocked?: boolean;
  mirrorByDigestOnly?: boolean;
  mirrors: MirrorEntry[];
}

export interface Endpoint {
  /** Registry host[:port] for credentials and the API. */
  registry: string;
  repository: string;
  mirror: boolean;
  insecure: boolean;
}

/** The registries.conf to read: explicit path, none (false), or containers' usual places. */
export function registriesConfPath(
  option: string | false | undefined,
  env = process.env,
  systemDir = '/etc/containers',
): string | undefined {
  if (option === false) return undefined;
  if (typeof option === 'string' && option) return option;
  if (env.CONTAINERS_REGISTRIES_CONF) return env.CONTAINERS_REGISTRIES_CONF;
  const user = join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'containers', 'registries.conf');
  if (existsSync(user)) return user;
  const system = join(systemDir, 'registries.conf');
  return existsSync(system) ? system : undefined;
}

export async function parseRegistriesConf(text: string, file: string): Promise<RegistryEntry[]> {
  const doc = await parseToml(text, file);
  if (doc.registry !== undefined && !Array.isArray(doc.registry)) {
    throw new OcipullError(
      'CONFIG_LOAD_FAILED',
      `${file}: registry is a single table; registries.conf wants an array of tables: [[registry]]`,
    );
  }
  return tables(doc.registry).map((r, i) => {
    const location = typeof r.location === 'string' ? r.location : '';
    const prefix = typeof r.prefix === 'string' && r.prefix ? r.prefix : location;
    if (!prefix) {
      throw new OcipullError(
        'CONFIG_LOAD_FAILED',
        `${file}: [[registry]] number ${i + 1} has neither prefix nor location`,
      );
    }
    const mirrors = tables(r.mirror).map((m) => ({
      location: String(m.location ?? ''),
      insecure: m.insecure === true,
      pullFromMirror:
        typeof m['pull-from-mirror'] === 'string' ? (m['pull-from-mirror'] as string) : undefined,
    }));
    return {
      prefix,
      location: location || prefix,
      insecure: r.insecure === true,
      blocked: r.blocked === true,
      mirrorByDigestOnly: r['mirror-by-digest-only'] === true,
      mirrors: mirrors.filter((m) => m.location),
    };
  });
}

/**
 * Every file to read, in order: the main registries.conf (as `registriesConfPath` finds it), then
 * the drop-ins of containers-registries.conf.d(5), `*.conf` in `/etc/containers/registries.conf.d`
 * and then `$XDG_CONFIG_HOME/containers/registries.conf.d`, each folder in name order. A path given
 * explicitly (option or CONTAINERS_REGISTRIES_CONF) is read alone, as containers/image does.
 */
export function registriesConfFiles(
  option: string | false | undefined,
  env = process.env,
  systemDir = '/etc/containers',
): string[] {
  if (option === false) return [];
  const main = registriesConfPath(option, env, systemDir);
  if ((typeof option === 'string' && option) || env.CONTAINERS_REGISTRIES_CONF) return main ? [main] : [];
  const userDir = join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'containers');
  const files = main ? [main] : [];
  for (const dir of [join(systemDir, 'registries.conf.d'), join(userDir, 'registries.conf.d')]) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.filter((n) => n.endsWith('.conf')).sort()) files.push(join(dir, name));
  }
  return files;
}

/**
 * Read `files` in order; a later `[[registry]]` with the same prefix replaces an earlier one.
 * With `skip`, a file that cannot be read or parsed is reported to it and left out (for files
 * found in the usual places rather than named by the user); without, it fails the run.
 */
export async function loadRegistriesConfFiles(
  files: string[],
  skip?: (error: unknown, file: string) => void,
): Promise<RegistryEntry[]> {
  const byPrefix = new Map<string, RegistryEntry>();
  for (const file of files) {
    let entries: RegistryEntry[];
    try {
      entries = await loadRegistriesConf(file);
    } catch (error) {
      if (!skip) throw error;
      skip(error, file);
      continue;
    }
    for (const entry of entries) {
      byPrefix.delete(entry.prefix);
      byPrefix.set(entry.prefix, entry);
    }
  }
  return [...byPrefix.values()];
}

export async function loadRegistriesConf(path: string | undefined): Promise<RegistryEntry[]> {
  if (!path) return [];
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new OcipullError(
      'CONFIG_LOAD_FAILED',
      `cannot read registries.conf ${path}: ${(error as Error).message}`,
    );
  }
  return parseRegistriesConf(text, path);
}

/** Does `prefix` (`host[/path]` or `*.domain`) cover `name` (`host/repo`)? Returns the matched length. */
function matchPrefix(prefix: string, name: string): number {
  if (prefix.startsWith('*.')) {
    const host = name.split('/')[0]!;
    return host.endsWith(prefix.slice(1)) ? prefix.length : -1;
  }
  if (name === prefix || name.startsWith(`${prefix}/`)) return prefix.length;
  return -1;
}

/** `mirror:5000/pm` standing in for prefix `quay.io/podman`: `quay.io/podman/machine-os` → host + repository. */
function rewrite(location: string, prefix: string, name: string): { registry: string; repository: string } {
  const rest = prefix.startsWith('*.') ? name.slice(name.indexOf('/')) : name.slice(prefix.length);
  const full = `${location.replace(/\/+$/, '')}${rest}`;
  const slash = full.indexOf('/');
  return { registry: full.slice(0, slash), repository: full.slice(slash + 1) };
}

export function endpointsFor(
  ref: RegistryReference,
  configMirrors: Record<string, string[]> | undefined,
  conf: RegistryEntry[],
): Endpoint[] {
  const name = `${ref.registry}/${ref.repository}`;
  const out: Endpoint[] = [];
  const add = (e: Endpoint) => {
    if (!out.some((o) => o.registry === e.registry && o.repository === e.repository)) out.push(e);
  };
  // Config mirrors: keyed by registry host, or host/path prefix; the longest match wins.
  const configKey = Object.keys(configMirrors ?? {})
    .filter((k) => matchPrefix(k, name) >= 0)
    .sort((a, b) => b.length - a.length)[0];
  for (const location of configKey ? configMirrors![configKey]! : []) {
    add({ ...rewrite(location, configKey!, name), mirror: true, insecure: false });
  }
  let best: RegistryEntry | undefined;
  for (const entry of conf) {
    if (matchPrefix(entry.prefix, name) > (best ? matchPrefix(best.prefix, name) : -1)) best = entry;
  }
  if (best?.blocked) {
    throw new OcipullError('DENIED', `${name} is blocked by registries.conf (prefix ${best.prefix})`);
  }
  const byDigest = ref.digest !== undefined;
  for (const m of best?.mirrors ?? []) {
    const mode = best!.mirrorByDigestOnly ? 'digest-only' : (m.pullFromMirror ?? 'all');
    if ((mode === 'digest-only' && !byDigest) || (mode === 'tag-only' && byDigest)) continue;
    add({ ...rewrite(m.location, best!.prefix, name), mirror: true, insecure: m.insecure === true });
  }
  const origin = best
    ? rewrite(best.location, best.prefix, name)
    : { registry: ref.registry, repository: ref.repository };
  add({ ...origin, mirror: false, insecure: best?.insecure === true });
  return out;
}
