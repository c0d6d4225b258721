/**
 * ocipull-plugin-cache: the blob cache. Taps `cache` (one DiskCache per run, in `settings.cacheDir`)
 * and `fetch.for('ocipull-cache')` (sources served from the cache offline). Options are laid under
 * the `cache` config section: { policy, maxSize, decompressed, lockStaleMs, durability }. See docs/cache.md.
 */
import type { Orchestrator, Plugin } from 'ocipull';
import { DiskCache } from './cache.js';
import { CACHE_SCHEME, fetchCached } from './offline.js';
import { normalizeSettings } from './settings.js';

const PLUGIN_NAME = 'ocipull-plugin-cache';

export { DiskCache } from './cache.js';
export { CACHE_SCHEME, CachedSource } from './offline.js';
export { type CacheSettings, normalizeSettings, type Policy, parseCacheSize } from './settings.js';

export default class CachePlugin implements Plugin {
  readonly name = PLUGIN_NAME;

  constructor(private readonly options: Record<string, unknown> = {}) {}

  apply(orchestrator: Orchestrator): void {
    orchestrator.hooks.cache.tapPromise(PLUGIN_NAME, async (request) => {
      const settings = normalizeSettings(request.settings, this.options);
      return new DiskCache(request.dir, settings, request.log);
    });
    orchestrator.hooks.fetch.for(CACHE_SCHEME).tapPromise(PLUGIN_NAME, fetchCached);
  }
}
