import { dirname } from 'node:path';
import { hostArch } from '../oci/platform.js';
import { defaultCacheDir, Orchestrator } from '../orchestrator.js';
import { passwordOf } from '../secrets.js';
import { DEFAULT_SETTINGS, type Settings } from '../settings.js';
import type { Logger, TransportOptions } from '../types.js';
import { loadConfigFile } from './load.js';
import { loadPlugins, mergePluginSpecs, normalizePluginEntry } from './plugins.js';
import { defaultPresetName, expandPresets } from './presets.js';
import { validateConfig } from './schema.js';
import type { ConfigFile, NormalizedConfig, PluginSpec, PresetSettings } from './types.js';

/** What the command line may lay over the config. */
export interface CliOverrides {
  configPath?: string;
  preset?: string;
  kind?: string;
  /** Kernel kind: the kernel version and the build options a target must have. */
  kernelVersion?: string;
  features?: string[];
  diskType?: string;
  arch?: string;
  os?: string;
  variant?: string;
  cacheDir?: string;
  tlsVerify?: boolean;
  creds?: string;
  authfile?: string;
  certDir?: string;
  replace?: boolean;
  sparse?: boolean;
  allowMissingTitle?: boolean;
  offline?: boolean;
  logLevel?: ConfigFile['logLevel'];
  progress?: ConfigFile['progress'];
}

/** Step 5's input: everything decided, nothing loaded yet. */
export interface ResolvedConfig {
  file?: string;
  presets: { name: string; file: string }[];
  plugins: PluginSpec[];
  settings: Settings;
  progress: NonNullable<ConfigFile['progress']>;
  logLevel: NonNullable<ConfigFile['logLevel']>;
}

/** Steps 1–3: load, validate, normalise (expand presets, normalise plugin entries). */
export async function normalizeConfig(options: {
  configPath?: string;
  /** `false`: read no configuration file at all (neither searched nor named). */
  configFile?: false;
  cwd?: string;
  preset?: string | string[];
  /** Config keys laid over the file's, as flags are (a library caller's options). */
  overlay?: ConfigFile;
}): Promise<NormalizedConfig> {
  const loaded = options.configFile === false ? { raw: {} } : await loadConfigFile(options);
  const file = loaded.file;
  // No file, or an empty one: the empty configuration, valid without asking the schema.
  const raw = loaded.raw ?? {};
  const empty =
    typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.keys(raw).length === 0;
  const fileConfig: ConfigFile = empty ? {} : await validateConfig(raw, file ?? 'configuration');
  const config: ConfigFile = { ...fileConfig, ...(options.overlay ?? {}) };
  // Kind settings merge per kind: `--format ext4` keeps the file's `kinds.rootfs.limits`.
  if (fileConfig.kinds && options.overlay?.kinds)
    config.kinds = mergeKinds(fileConfig.kinds, options.overlay.kinds);
  const baseDir = file ? dirname(file) : (options.cwd ?? process.cwd());
  const cliBase = options.cwd ?? process.cwd();
  const given = options.preset === undefined || options.preset.length === 0 ? undefined : options.preset;
  const presetNames = given
    ? Array.isArray(given)
      ? given
      : [given]
    : config.preset === undefined
      ? [defaultPresetName()]
      : Array.isArray(config.preset)
        ? config.preset
        : [config.preset];
  const presets = await expandPresets(presetNames, given ? cliBase : baseDir);
  // Plugins given as options replace the file's and resolve from the working directory.
  const own = options.overlay?.plugins
    ? options.overlay.plugins.map((entry) => normalizePluginEntry(entry, cliBase, 'options'))
    : (fileConfig.plugins ?? []).map((entry) =>
        normalizePluginEntry(entry, baseDir, file ?? 'configuration'),
      );
  const plugins = [...presets.flatMap((p) => p.plugins), ...own];
  return {
    file,
    config,
    presets: presets.map((p) => ({ name: p.name, file: p.file, settings: p.settings })),
    plugins: mergePluginSpecs(plugins),
  };
}

type KindSettings = Record<string, Record<string, unknown>>;

/** `over`'s settings of each kind laid over `under`'s, key by key. */
function mergeKinds(under: KindSettings, over: KindSettings): KindSettings {
  const merged: KindSettings = { ...under };
  for (const [kind, settings] of Object.entries(over)) merged[kind] = { ...(under[kind] ?? {}), ...settings };
  return merged;
}

function layer(target: Partial<Settings>, settings: PresetSettings): void {
  for (const [key, value] of Object.entries(settings)) {
    if (value === undefined) continue;
    if (key === 'cache') target.cache = { ...(target.cache ?? {}), ...(value as Record<string, unknown>) };
    else if (key === 'kinds') target.kinds = mergeKinds(target.kinds ?? {}, value as KindSettings);
    else (target as Record<string, unknown>)[key] = value;
  }
}

/** Step 4: defaults, then presets in order, then the config file, then the command line. */
export function applyDefaults(normalized: NormalizedConfig, cli: CliOverrides = {}): ResolvedConfig {
  const c = normalized.config;
  const s: Partial<Settings> = {
    ...DEFAULT_SETTINGS,
    diskType: 'qemu',
    arch: hostArch(),
    cacheDir: defaultCacheDir(),
  };
  for (const preset of normalized.presets) layer(s, preset.settings);
  layer(s, {
    kind: c.kind,
    kernelVersion: c.kernelVersion,
    features: c.features,
    diskType: c.diskType,
    os: c.os,
    arch: c.arch,
    format: c.format,
    sparse: c.sparse,
    outputName: c.outputName,
    machineName: c.machineName,
    allowMissingTitle: c.allowMissingTitle,
    cache: c.cache,
    kinds: c.kinds,
  });
  const pick = <K extends keyof Settings>(key: K, value: Settings[K] | undefined) => {
    if (value !== undefined) s[key] = value;
  };
  pick('defaultSource', c.defaultSource);
  pick('machineOsVersion', c.machineOsVersion);
  pick('replace', c.replace);
  pick('cacheDir', c.cacheDir);
  pick('maxExpansionRatio', c.maxExpansionRatio);
  pick('blobRetries', c.blobRetries);
  pick('concurrency', c.concurrency);
  pick('connections', c.connections);
  pick('connectionsOnDemand', c.connectionsOnDemand);
  pick('rangeChunkSize', c.rangeChunkSize);
  pick('plugins', c.pluginSettings);
  pick('kind', cli.kind);
  pick('kernelVersion', cli.kernelVersion);
  pick('features', cli.features);
  pick('diskType', cli.diskType);
  pick('arch', cli.arch);
  pick('os', cli.os);
  pick('variant', cli.variant);
  pick('cacheDir', cli.cacheDir);
  pick('replace', cli.replace);
  pick('sparse', cli.sparse);
  pick('allowMissingTitle', cli.allowMissingTitle);
  const transport: TransportOptions = {
    tlsVerify: cli.tlsVerify ?? c.tlsVerify ?? true,
    creds: cli.creds,
    authfile: cli.authfile,
    ...(cli.certDir ? { certDir: cli.certDir } : {}),
    insecureRegistries: c.insecureRegistries ?? [],
    mirrors: c.mirrors ?? {},
    registriesConf: c.registriesConf === true ? undefined : c.registriesConf,
    offline: cli.offline ?? false,
    settings: c.transports ?? {},
  };
  s.transport = transport;
  return {
    file: normalized.file,
    presets: normalized.presets.map(({ name, file }) => ({ name, file })),
    plugins: normalized.plugins,
    settings: s as Settings,
    progress: cli.progress ?? c.progress ?? 'auto',
    logLevel: cli.logLevel ?? c.logLevel ?? 'info',
  };
}

export async function resolveConfig(options: CliOverrides & { cwd?: string } = {}): Promise<ResolvedConfig> {
  const normalized = await normalizeConfig({
    configPath: options.configPath,
    cwd: options.cwd,
    preset: options.preset,
  });
  return applyDefaults(normalized, options);
}

/** Step 5: load the plugins and apply them to a new orchestrator. */
export async function createOrchestrator(resolved: ResolvedConfig, log: Logger): Promise<Orchestrator> {
  const orchestrator = new Orchestrator({ settings: resolved.settings, log });
  const plugins = await loadPlugins(resolved.plugins);
  for (const plugin of plugins) orchestrator.use(plugin);
  const password = passwordOf(resolved.settings.transport.creds);
  if (password) log.redact(password);
  return orchestrator;
}

/**
 * What `createOrchestrator(options)` takes: the config file's keys, laid over the file the way
 * command-line flags are, plus where to look for the file and how to log. The CLI builds one of
 * these from its flags; both resolve it with {@link resolveOptions}.
 */
export interface OrchestratorSetup extends ConfigFile {
  /** Where the config file is searched from and relative paths resolve (default: process.cwd()). */
  cwd?: string;
  /** A config file to read instead of searching; `false` for none. */
  configFile?: string | false;
  /** The logger to use (default: one writing to stderr at `logLevel`). */
  log?: Logger;
  /** CPU variant to require (`v8`). */
  variant?: string;
  /** Registry credentials `USER:PASSWORD` (redacted from every log line and error). */
  creds?: string;
  /** Auth file (containers auth.json / docker config.json format). */
  authfile?: string;
  /** Registry CAs and client certificate directory, instead of certs.d. */
  certDir?: string;
  /** Use only what is in the cache. */
  offline?: boolean;
}

/** The keys of {@link OrchestratorSetup} that are the command line's overrides. */
const OVERRIDE_KEYS = [
  'kind',
  'kernelVersion',
  'features',
  'diskType',
  'arch',
  'os',
  'variant',
  'cacheDir',
  'tlsVerify',
  'creds',
  'authfile',
  'certDir',
  'replace',
  'sparse',
  'allowMissingTitle',
  'offline',
  'logLevel',
  'progress',
] as const satisfies readonly (keyof CliOverrides)[];

/** Keys that only say where to look and how to log: no configuration of their own. */
const SETUP_KEYS = new Set(['cwd', 'configFile', 'log', 'preset', ...OVERRIDE_KEYS]);

/**
 * Resolve a setup as the CLI resolves its flags: cosmiconfig discovery from `cwd` (or the file
 * named), presets (the options' or the file's), built-in plugins, the file, then the options.
 * Keys the command line has no flag for (plugins, mirrors, cache, ...) are checked against the
 * config schema and replace the file's.
 */
export async function resolveOptions(setup: OrchestratorSetup = {}): Promise<ResolvedConfig> {
  const overlay: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(setup)) {
    if (value !== undefined && !SETUP_KEYS.has(key)) overlay[key] = value;
  }
  const checked = Object.keys(overlay).length ? await validateConfig(overlay, 'options') : undefined;
  const overrides: CliOverrides = {};
  for (const key of OVERRIDE_KEYS) {
    if (setup[key] !== undefined) (overrides as Record<string, unknown>)[key] = setup[key];
  }
  const normalized = await normalizeConfig({
    configPath: typeof setup.configFile === 'string' ? setup.configFile : undefined,
    ...(setup.configFile === false ? { configFile: false as const } : {}),
    cwd: setup.cwd,
    preset: setup.preset,
    overlay: checked,
  });
  return applyDefaults(normalized, overrides);
}
