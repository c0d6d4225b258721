/**
 * The library: `createOrchestrator(options)` resolves configuration exactly as the CLI does and
 * returns an {@link Ocipull} whose methods are the CLI's commands. The CLI is a face over this.
 */

import { builtinCodecs, codecsOf } from './builtin-codecs.js';
import {
  type CacheExportRequest,
  type CacheExportResult,
  type CacheListResult,
  cacheExport,
  cacheList,
  cachePrune,
} from './cache-commands.js';
import {
  createOrchestrator as applyPlugins,
  type OrchestratorSetup,
  type ResolvedConfig,
  resolveOptions,
} from './config/resolve.js';
import { validateFlag } from './config/schema.js';
import { type InspectReport, type InspectRequest, inspectSource } from './inspect.js';
import { createLogger } from './log.js';
import { checkArchitecture } from './oci/platform.js';
import type { Orchestrator } from './orchestrator.js';
import type { PullRequest } from './pipeline/pull.js';
import type { CopyRequest, CopyResult } from './publish/copy.js';
import type { PackRequest, PackResult } from './publish/pack.js';
import { runCopy, runPack } from './publish/run.js';
import { masked, passwordOf } from './secrets.js';
import type { Settings } from './settings.js';
import type { CachePruneOptions, CachePruneResult, Logger, PullResult, TransportOptions } from './types.js';

export type { OrchestratorSetup, ResolvedConfig } from './config/resolve.js';

/** How messages name an option: the library says `arch`, the CLI its flag (`--arch`). */
export interface FrontEnd {
  optionName?(key: keyof OrchestratorSetup): string;
}

/** One side of a copy: what differs from the configured transport (`--src-creds`, ...). */
export type TransportOverrides = Partial<
  Pick<TransportOptions, 'creds' | 'tlsVerify' | 'authfile' | 'certDir'>
>;

export interface LibraryCopyRequest extends Omit<CopyRequest, 'sourceTransport' | 'destinationTransport'> {
  /** Laid over the configured transport options for the source only. */
  sourceTransport?: TransportOverrides;
  /** Laid over the configured transport options for the destination only. */
  destinationTransport?: TransportOverrides;
}

/** What `ocipull config` prints: where the configuration came from and what it resolved to. */
export interface ConfigReport {
  file: string | null;
  presets: { name: string; file: string }[];
  plugins: { name: string; spec: string; options: Record<string, unknown>; from: string }[];
  transports: string[];
  diskTypes: string[];
  codecs: string[];
  /** The settings, credentials shown as `***`. */
  settings: Record<string, unknown>;
}

/** The library's face: every command of the CLI as a method. */
export class Ocipull {
  /**
   * The built-in codecs `pack` can compress with, and those it only takes as they are (already
   * compressed inputs), from their records: what `--compress` offers before config is loaded.
   */
  static async packCodecs(): Promise<{ compressors: string[]; asIs: string[] }> {
    const list = (await builtinCodecs()).list();
    return {
      compressors: list.filter((c) => c.encoder).map((c) => c.name),
      asIs: list.filter((c) => !c.encoder).map((c) => c.name),
    };
  }

  /** The configured codecs: those `pack` compresses with (`compress`), and every codec name. */
  async codecNames(): Promise<{ compressors: string[]; all: string[] }> {
    const codecs = await codecsOf(this.orchestrator);
    return { compressors: codecs.encoders().map((c) => c.name), all: codecs.list().map((c) => c.name) };
  }

  readonly cache: {
    /** The cache's entries (`ocipull cache ls`). */
    ls(): Promise<CacheListResult>;
    /** Remove entries and stale partials (`ocipull cache prune`). */
    prune(options?: CachePruneOptions): Promise<CachePruneResult>;
    /** Write a cached image into an OCI layout (`ocipull cache export`). */
    export(request: CacheExportRequest): Promise<CacheExportResult>;
  };

  constructor(
    /** The orchestrator with every configured plugin applied (hooks, codecs, kinds). */
    readonly orchestrator: Orchestrator,
    /** The configuration as resolved: the file, the presets, the plugin list and the settings. */
    readonly config: ResolvedConfig,
    private readonly frontEnd: FrontEnd = {},
  ) {
    this.cache = {
      ls: () => cacheList(orchestrator),
      prune: (options) => cachePrune(orchestrator, options),
      export: (request) => cacheExport(orchestrator, request),
    };
  }

  get settings(): Readonly<Settings> {
    return this.orchestrator.settings;
  }

  get log(): Logger {
    return this.orchestrator.log;
  }

  get hooks(): Orchestrator['hooks'] {
    return this.orchestrator.hooks;
  }

  get kinds(): Orchestrator['kinds'] {
    return this.orchestrator.kinds;
  }

  /** Pull one artifact (a disk by default) into `output` (`ocipull pull`). */
  pull(request: PullRequest = {}): Promise<PullResult> {
    return this.orchestrator.pull(request);
  }

  /** What a source holds, as the chosen kind describes it (`ocipull inspect`). */
  async inspect(request: InspectRequest = {}): Promise<InspectReport> {
    const arch = request.platform?.arch;
    if (arch !== undefined) checkArchitecture(arch, this.frontEnd.optionName?.('arch') ?? 'arch', 'USAGE');
    return inspectSource(this.orchestrator, request);
  }

  /** Publish disk files as a machine-os index (`ocipull pack`). */
  pack(request: PackRequest): Promise<PackResult> {
    return runPack(this.orchestrator, request);
  }

  /** Copy an index or one disk between layouts and registries (`ocipull copy`). */
  copy(request: LibraryCopyRequest): Promise<CopyResult> {
    const base = this.settings.transport;
    const side = (overrides: TransportOverrides = {}): TransportOptions => {
      const password = passwordOf(overrides.creds);
      if (password) this.log.redact(password);
      const given = Object.entries(overrides).filter(([, v]) => v !== undefined);
      return { ...base, ...Object.fromEntries(given) };
    };
    return runCopy(this.orchestrator, {
      ...request,
      sourceTransport: side(request.sourceTransport),
      destinationTransport: side(request.destinationTransport),
    });
  }

  /** Where the configuration came from and what it resolved to (`ocipull config`). */
  describeConfig(): ConfigReport {
    const { config, orchestrator } = this;
    return {
      file: config.file ?? null,
      presets: config.presets,
      plugins: config.plugins.map((p, i) => ({
        name: orchestrator.plugins[i] ?? p.name,
        spec: p.name,
        options: p.options,
        from: p.from,
      })),
      transports: orchestrator.transportSchemes(),
      diskTypes: orchestrator.diskTypes(),
      codecs: orchestrator.codecs.list().map((c) => c.name),
      settings: {
        ...config.settings,
        transport: {
          ...config.settings.transport,
          creds: masked(config.settings.transport.creds),
        },
      },
    };
  }
}

/**
 * Resolve configuration as the CLI does (the config file found from `cwd` or named by
 * `configFile`, presets, built-in plugins, then `options` laid over like flags), load the plugins
 * and return the library's face. See docs/library.md.
 */
export async function createOrchestrator(
  options: OrchestratorSetup = {},
  frontEnd: FrontEnd = {},
): Promise<Ocipull> {
  const name = (key: keyof OrchestratorSetup) => frontEnd.optionName?.(key) ?? key;
  // Refused as the config file's `progress` is: same values, same code.
  if (options.progress !== undefined) await validateFlag('progress', options.progress, name('progress'));
  if (options.arch !== undefined) checkArchitecture(options.arch, name('arch'), 'USAGE');
  const config = await resolveOptions(options);
  const log = options.log ?? createLogger(config.logLevel);
  const password = passwordOf(options.creds);
  if (password) log.redact(password);
  const orchestrator = await applyPlugins(config, log);
  return new Ocipull(orchestrator, config, frontEnd);
}
