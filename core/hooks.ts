/**
 * The orchestrator's hooks, declared once. See docs/hooks.md for each hook's
 * Type / Kind / Previous / Next.
 */
import { AsyncSeriesBailHook, AsyncSeriesHook, HookMap, SyncHook } from 'tapable';
import type { OcipullError } from './errors/errors.js';
import { wrapPluginError } from './errors/errors.js';
import { guardService } from './errors/guard.js';
import type {
  BlobCache,
  CacheRequest,
  DecompressRequest,
  DecompressResult,
  FetchRequest,
  FetchResponse,
  ProgressEvent,
  PullPlan,
  PullResult,
  ResolveRequest,
  Selection,
  SelectRequest,
  Source,
  Unpacked,
  UnpackRequest,
} from './types.js';

export interface Hooks {
  /** Keyed by transport scheme (`docker`, `oci-dir`, ...): turn a reference into a Source. */
  readonly resolve: HookMap<AsyncSeriesBailHook<[ResolveRequest], Source | undefined>>;
  /** Keyed by transport scheme: open a byte stream for a descriptor. */
  readonly fetch: HookMap<AsyncSeriesBailHook<[FetchRequest], FetchResponse | undefined>>;
  /** Keyed by disk type (hypervisor): choose the manifest and layer to pull. */
  readonly select: HookMap<AsyncSeriesBailHook<[SelectRequest], Selection | undefined>>;
  /** Provide the blob cache service for this run (first tap that answers wins). */
  readonly cache: AsyncSeriesBailHook<[CacheRequest], BlobCache | undefined>;
  /** Keyed by layer kind (`blob`, `tar`): take the disk file out of the layer stream. */
  readonly unpack: HookMap<AsyncSeriesBailHook<[UnpackRequest], Unpacked | undefined>>;
  /** Keyed by codec name (`zstd`, `xz`, `gzip`, `bzip2`, `zip`, `none`): write the decoded disk. */
  readonly decompress: HookMap<AsyncSeriesBailHook<[DecompressRequest], DecompressResult | undefined>>;
  /** Lifecycle: a pull is about to start (output planned, nothing fetched yet). */
  readonly beforePull: AsyncSeriesHook<[PullPlan]>;
  /** Lifecycle: progress of the current phase. Taps must be cheap and never throw. */
  readonly progress: SyncHook<[ProgressEvent]>;
  /** Lifecycle: the output is in place. */
  readonly afterPull: AsyncSeriesHook<[PullResult]>;
  /** Lifecycle: the run failed; nothing was left at the output path. */
  readonly failed: SyncHook<[OcipullError]>;
}

type AnyTap = { name: string; type: 'sync' | 'async' | 'promise'; fn: (...args: unknown[]) => unknown };

/**
 * Wrap a tap's function so anything it throws names the plugin and the hook. For hooks that
 * answer with a service (`services`: a BlobCache, a Source), the answer is guarded too, so the
 * errors of its methods, called later by the core, name the plugin as well.
 */
function wrapTap(hookName: string, services: boolean) {
  return (tap: AnyTap): AnyTap => {
    const original = tap.fn;
    const plugin = tap.name;
    const answer = (result: unknown) => (services ? guardService(result, plugin, hookName) : result);
    if (tap.type === 'promise') {
      return {
        ...tap,
        fn: (...args: unknown[]) =>
          Promise.resolve()
            .then(() => original(...args))
            .then(answer)
            .catch((error: unknown) => {
              throw wrapPluginError(error, plugin, hookName);
            }),
      };
    }
    if (tap.type === 'async') {
      return {
        ...tap,
        fn: (...args: unknown[]) => {
          const callback = args.pop() as (error?: unknown, result?: unknown) => void;
          try {
            original(...args, (error?: unknown, result?: unknown) =>
              error ? callback(wrapPluginError(error, plugin, hookName)) : callback(null, answer(result)),
            );
          } catch (error) {
            callback(wrapPluginError(error, plugin, hookName));
          }
        },
      };
    }
    return {
      ...tap,
      fn: (...args: unknown[]) => {
        try {
          return answer(original(...args));
        } catch (error) {
          throw wrapPluginError(error, plugin, hookName);
        }
      },
    };
  };
}

// biome-ignore lint/suspicious/noExplicitAny: tapable's generic hook type
type AnyHook = { intercept(interceptor: { register?: (tap: any) => any }): void };

function guarded<H extends AnyHook>(name: string, hook: H, onTap?: () => void, services = false): H {
  const wrap = wrapTap(name, services);
  hook.intercept({
    register: (tap: AnyTap) => {
      onTap?.();
      return wrap(tap);
    },
  });
  return hook;
}

const mapKeys = new WeakMap<object, Set<string>>();

function guardedMap<H extends AnyHook>(name: string, factory: () => H, services = false): HookMap<H> {
  const keys = new Set<string>();
  const map = new HookMap<H>((key) =>
    guarded(`${name}[${String(key)}]`, factory(), () => keys.add(String(key)), services),
  );
  mapKeys.set(map, keys);
  return map;
}

/** Keys of a HookMap that have at least one tap (e.g. the transport schemes configured). */
export function tappedKeys<H>(map: HookMap<H>): string[] {
  return [...(mapKeys.get(map) ?? [])].sort();
}

/** Whether a key of a HookMap has a tap (tapable's own isUsed also counts interceptors). */
export function hasTaps<H>(map: HookMap<H>, key: string): boolean {
  return mapKeys.get(map)?.has(key) ?? false;
}

export function createHooks(): Hooks {
  return Object.freeze({
    resolve: guardedMap(
      'resolve',
      () => new AsyncSeriesBailHook<[ResolveRequest], Source | undefined>(['request']),
      true,
    ),
    fetch: guardedMap(
      'fetch',
      () => new AsyncSeriesBailHook<[FetchRequest], FetchResponse | undefined>(['request']),
    ),
    select: guardedMap(
      'select',
      () => new AsyncSeriesBailHook<[SelectRequest], Selection | undefined>(['request']),
    ),
    cache: guarded(
      'cache',
      new AsyncSeriesBailHook<[CacheRequest], BlobCache | undefined>(['request']),
      undefined,
      true,
    ),
    unpack: guardedMap(
      'unpack',
      () => new AsyncSeriesBailHook<[UnpackRequest], Unpacked | undefined>(['request']),
    ),
    decompress: guardedMap(
      'decompress',
      () => new AsyncSeriesBailHook<[DecompressRequest], DecompressResult | undefined>(['request']),
    ),
    beforePull: guarded('beforePull', new AsyncSeriesHook<[PullPlan]>(['plan'])),
    progress: guarded('progress', new SyncHook<[ProgressEvent]>(['event'])),
    afterPull: guarded('afterPull', new AsyncSeriesHook<[PullResult]>(['result'])),
    failed: guarded('failed', new SyncHook<[OcipullError]>(['error'])),
  });
}
