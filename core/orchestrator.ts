import { homedir } from 'node:os';
import { join } from 'node:path';
import { CodecRegistry } from './codecs.js';
import { callKeyed } from './dispatch.js';
import { OcipullError, toOcipullError } from './errors/errors.js';
import { createHooks, type Hooks, tappedKeys } from './hooks.js';
import { KindRegistry } from './kinds/registry.js';
import { createLogger } from './log.js';
import { hostArch } from './oci/platform.js';
import { type PullRequest, runPull } from './pipeline/pull.js';
import { loadDocument, openSource } from './pipeline/source.js';
import { DEFAULT_SETTINGS, type Settings } from './settings.js';
import type {
  BlobCache,
  Descriptor,
  DiskRequest,
  FetchResponse,
  LoadedDocument,
  Logger,
  Plugin,
  PullResult,
  Selection,
  Source,
  TransportOptions,
} from './types.js';

export interface OrchestratorOptions {
  settings?: Partial<Settings>;
  log?: Logger;
}

export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'ocipull');
}

/**
 * Owns the hooks and drives the pipeline. Plugins tap `hooks`; the pipeline phases live in
 * core/pipeline/ and call back into the hooks through the methods below.
 */
export class Orchestrator {
  readonly hooks: Hooks = createHooks();
  readonly codecs = new CodecRegistry();
  /** Artifact kinds (`disk`, ...) plugins register; `settings.kind` chooses one. */
  readonly kinds = new KindRegistry();
  readonly log: Logger;
  readonly settings: Readonly<Settings>;
  private readonly applied: string[] = [];
  private cachePromise?: Promise<BlobCache | undefined>;

  constructor(options: OrchestratorOptions = {}) {
    this.log = options.log ?? createLogger('info');
    this.settings = Object.freeze({
      ...DEFAULT_SETTINGS,
      diskType: 'qemu',
      kind: 'disk',
      arch: hostArch(),
      cacheDir: defaultCacheDir(),
      ...options.settings,
    } as Settings);
  }

  /** Apply a plugin. A second plugin with the same name is an error (PLUGIN_DUPLICATE). */
  use(plugin: Plugin): this {
    if (!plugin || typeof plugin.name !== 'string' || typeof plugin.apply !== 'function') {
      throw new OcipullError(
        'PLUGIN_INVALID',
        'a plugin must have a string `name` and an `apply(orchestrator)` method',
      );
    }
    if (this.applied.includes(plugin.name)) {
      throw new OcipullError('PLUGIN_DUPLICATE', `plugin ${plugin.name} is applied twice`, {
        hint: 'list each plugin once across config and presets',
      });
    }
    try {
      plugin.apply(this);
    } catch (error) {
      if (error instanceof OcipullError) throw error;
      throw new OcipullError(
        'PLUGIN_INVALID',
        `plugin ${plugin.name} failed to apply: ${(error as Error).message}`,
        {
          plugin: plugin.name,
          cause: error,
        },
      );
    }
    this.applied.push(plugin.name);
    return this;
  }

  /** Names of the plugins applied, in order. */
  get plugins(): readonly string[] {
    return [...this.applied];
  }

  /** Schemes some transport plugin resolves. */
  transportSchemes(): string[] {
    return tappedKeys(this.hooks.resolve);
  }

  /** Disk types some selection plugin handles. */
  diskTypes(): string[] {
    return tappedKeys(this.hooks.select);
  }

  /** Resolve `TRANSPORT:REFERENCE` through the `resolve` hook (fails fast when not found). */
  openSource(
    raw: string,
    options: { purpose?: 'pull' | 'push'; transport?: TransportOptions; signal?: AbortSignal } = {},
  ): Promise<Source> {
    return openSource(this, raw, {
      purpose: options.purpose ?? 'pull',
      transport: options.transport,
      signal: options.signal,
    });
  }

  /** Fetch, verify and parse an index or manifest of a source. */
  load(source: Source, descriptor: Descriptor, signal?: AbortSignal): Promise<LoadedDocument> {
    return loadDocument(this, source, descriptor, signal);
  }

  /** Open raw bytes through the `fetch` hook. Callers verify (see DigestVerifier). */
  async fetchRaw(
    source: Source,
    descriptor: Descriptor,
    offset = 0,
    signal?: AbortSignal,
    ifRange?: string,
    length?: number,
  ): Promise<FetchResponse> {
    const response = await callKeyed(
      this.hooks.fetch,
      source.scheme,
      {
        source,
        descriptor,
        offset,
        ifRange,
        ...(length !== undefined ? { length } : {}),
        signal: signal ?? new AbortController().signal,
        log: this.log,
      },
      () =>
        new OcipullError('NO_TRANSPORT', `no plugin fetches content for "${source.scheme}:" sources`, {
          hint: `the transport plugin for ${source.scheme}: must tap fetch.for('${source.scheme}')`,
        }),
    );
    // Whoever reads the body sees its errors through the read. A body the run stopped wanting (the
    // signal aborted while the transport was opening it, so it is being destroyed already) may
    // still emit one before anyone reads: that must not become an uncaught exception.
    response.body.on('error', () => {});
    if (signal?.aborted) {
      response.body.destroy();
      throw signal.reason;
    }
    return response;
  }

  /** Choose the disk through `select.for(diskType)`; `onLoad` sees each nested document loaded. */
  async select(
    source: Source,
    root: LoadedDocument,
    want: DiskRequest,
    signal?: AbortSignal,
    onLoad?: (document: LoadedDocument) => void,
  ): Promise<Selection> {
    const load = async (d: Descriptor) => {
      const document = await this.load(source, d, signal);
      onLoad?.(document);
      return document;
    };
    return callKeyed(this.hooks.select, want.diskType, { source, root, want, load, log: this.log }, () => {
      const known = this.diskTypes();
      return new OcipullError('NO_SELECTOR', `no selection plugin handles disk type "${want.diskType}"`, {
        hint: known.length
          ? `configured disk types: ${known.join(', ')}`
          : 'use a preset (--preset qemu) or add ocipull-plugin-disk-select',
      });
    });
  }

  /** The cache service for this run, if a cache plugin is configured (asked once). */
  getCache(): Promise<BlobCache | undefined> {
    this.cachePromise ??= this.hooks.cache.promise({
      dir: this.settings.cacheDir,
      settings: this.settings.cache,
      log: this.log,
    });
    return this.cachePromise;
  }

  /**
   * Pull what the run's kind (`settings.kind`, default `disk`) plans: resolve → plan → for each
   * part cache → fetch → unpack → decompress (or the kind's place) → one atomic commit.
   */
  pull(request: PullRequest = {}): Promise<PullResult> {
    return runPull(this, request).catch((error: unknown) => {
      // A caller's plain `abort()` is INTERRUPTED, anything else unexpected INTERNAL.
      const wrapped = toOcipullError(error);
      this.hooks.failed.call(wrapped);
      throw wrapped;
    });
  }
}
