/** Each step of the config pipeline has its own type: load → validate → normalize → defaults → apply. */

/** A plugin entry as written: `"name"` or `["name", {options}]`. */
export type PluginEntry = string | [string] | [string, Record<string, unknown>];

/** Settings a preset may set (a subset of the config file's keys). */
export interface PresetSettings {
  kind?: string;
  /** Kernel kind: `os.version` and `os.features` (KEY=VALUE) a target must have. */
  kernelVersion?: string;
  features?: string[];
  diskType?: string;
  os?: string;
  arch?: string;
  format?: string;
  sparse?: boolean;
  outputName?: string;
  machineName?: string;
  allowMissingTitle?: boolean;
  cache?: Record<string, unknown>;
  /** Settings of each artifact kind, by kind name (`kinds.rootfs.format`). */
  kinds?: Record<string, Record<string, unknown>>;
}

/** A config file after schema validation (step 2). */
export interface ConfigFile extends PresetSettings {
  preset?: string | string[];
  plugins?: PluginEntry[];
  defaultSource?: string;
  machineOsVersion?: string;
  replace?: boolean;
  cacheDir?: string;
  maxExpansionRatio?: number;
  blobRetries?: number;
  concurrency?: number;
  connections?: number;
  connectionsOnDemand?: boolean;
  rangeChunkSize?: number;
  tlsVerify?: boolean;
  insecureRegistries?: string[];
  mirrors?: Record<string, string[]>;
  registriesConf?: string | boolean;
  progress?: 'auto' | 'plain' | 'json' | 'none';
  logLevel?: 'silent' | 'error' | 'warn' | 'info' | 'debug';
  transports?: Record<string, Record<string, unknown>>;
  pluginSettings?: Record<string, unknown>;
}

/** A preset file after schema validation. */
export interface PresetFile {
  description?: string;
  extends?: string | string[];
  plugins?: PluginEntry[];
  settings?: PresetSettings;
}

/** Step 1: what cosmiconfig found. */
export interface LoadedConfig {
  /** Absolute path of the file, or undefined when none was found. */
  file?: string;
  raw: unknown;
}

/** A plugin to load, with the directory its name is resolved from. */
export interface PluginSpec {
  name: string;
  options: Record<string, unknown>;
  /** Directory of the file that named the plugin (paths resolve from here). */
  baseDir: string;
  /** Which file named it (config or preset), for messages. */
  from: string;
}

/** Step 3: presets expanded and entries normalised, in the order they apply. */
export interface NormalizedConfig {
  file?: string;
  config: ConfigFile;
  presets: { name: string; file: string; settings: PresetSettings }[];
  plugins: PluginSpec[];
}
