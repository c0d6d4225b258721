import { OcipullError } from '../errors/errors.js';
import type { Orchestrator } from '../orchestrator.js';
import type { Source, TransportOptions } from '../types.js';
import { isTransient } from './blob-stream.js';
import { openSource } from './source.js';

export interface OpenedSource {
  source: Source;
  /** Set when the source is served by the cache: --offline, or the real one was unreachable. */
  offline?: 'offline' | 'unreachable';
}

/**
 * Open the source of a pull. With --offline the cache answers first (a remembered tag or a digest
 * it holds); otherwise the transport does, and a network failure falls back to the cache when it
 * remembers the reference. Either way the user is told.
 */
export async function openPullSource(
  orchestrator: Orchestrator,
  raw: string,
  transport: TransportOptions,
  signal: AbortSignal,
): Promise<OpenedSource> {
  const request = { requested: raw, defaultTag: transport.defaultTag };
  if (transport.offline) {
    const cache = await orchestrator.getCache();
    const source = await cache?.openOffline?.({ ...request, reason: 'offline' });
    if (source) {
      orchestrator.log.info(`offline: using ${source.reference} from the cache ${cache!.dir}; no network`);
      return { source, offline: 'offline' };
    }
    try {
      return { source: await openSource(orchestrator, raw, { purpose: 'pull', transport, signal }) };
    } catch (error) {
      if (error instanceof OcipullError && error.code === 'OFFLINE' && !error.hint) {
        error.hint = cache?.openOffline
          ? `${raw} is not in the cache ${cache.dir}: pull it once with the network (ocipull cache ls lists what is there)`
          : 'no cache plugin is configured (add "cache" to the plugins)';
      }
      throw error;
    }
  }
  try {
    return { source: await openSource(orchestrator, raw, { purpose: 'pull', transport, signal }) };
  } catch (error) {
    if (signal.aborted || !isTransient(error)) throw error;
    const cache = await orchestrator.getCache().catch(() => undefined);
    const source = await cache?.openOffline?.({ ...request, reason: 'unreachable' }).catch(() => undefined);
    if (!source) throw error;
    orchestrator.log.warn(
      `${raw} is unreachable (${(error as Error).message}); using the copy in the cache ${cache!.dir}`,
    );
    return { source, offline: 'unreachable' };
  }
}
