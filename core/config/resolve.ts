import { dirname } from 'node:path';
import { hostArch } from '../oci/platform.js';
import { defaultCacheDir, Orchestrator } from '../orchestrator.js';
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
  cwd?: string;
  preset?: string;
}): Promise<NormalizedConfig> {
  const loaded = await loadConfigFile(options);
  const file = loaded.file;
  // No file, or an empty one: the empty configuration, valid without asking the schema.
  const raw = loaded.raw ?? {};
  const empty =
    typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.keys(raw).length === 0;
  const config: ConfigFile = empty ? {} : await validateConfig(raw, file ?? 'configuration');
  const baseDir = file ? dirname(file) : (options.cwd ?? process.cwd());
  const presetNames = options.preset
    ? [options.preset]
    : config.preset === undefined
      ? [defaultPresetName()]
      : Array.isArray(config.preset)
        ? config.preset
        : [config.preset];
  const cliBase = options.cwd ?? process.cwd();
  const presets = await expandPresets(presetNames, options.preset ? cliBase : baseDir);
  const plugins = [
    ...presets.flatMap((p) => p.plugins),
    ...(config.plugins ?? []).map((entry) => normalizePluginEntry(entry, baseDir, file ?? 'configuration')),
  ];
  return {
    file,
    config,
    presets: presets.map((p) => ({ name: p.name, file: p.file, settings: p.settings })),
    plugins: mergePluginSpecs(plugins),
  };
}

function layer(target: Partial<Settings>, settings: PresetSettings): void {
  for (const [key, value] of Object.entries(settings)) {
    if (value === undefined) continue;
    if (key === 'cache') target.cache = { ...(target.cache ?? {}), ...(value as Record<string, unknown>) };
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
    diskType: c.diskType,
    os: c.os,
    arch: c.arch,
    format: c.format,
    sparse: c.sparse,
    outputName: c.outputName,
    machineName: c.machineName,
    allowMissingTitle: c.allowMissingTitle,
    cache: c.cache,
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
  pick('connections', c.connections);
  pick('rangeChunkSize', c.rangeChunkSize);
  pick('plugins', c.pluginSettings);
  pick('kind', cli.kind);
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
  if (resolved.settings.transport.creds) {
    const [, password] = resolved.settings.transport.creds.split(/:(.*)/s);
    if (password) log.redact(password);
  }
  return orchestrator;
}
