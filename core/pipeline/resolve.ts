import { OcipullError } from '../errors/errors.js';
import { withoutUserinfo } from '../log.js';
import type { Orchestrator } from '../orchestrator.js';
import type { BlobCache, LoadedDocument, Source, TransportOptions } from '../types.js';
import { openPullSource } from './offline.js';
import { loadDocument } from './source.js';

export { majorMinor } from '../kinds/registry.js';

export interface Resolved {
  /** The reference as given (or the configured default source). */
  requested: string;
  source: Source;
  /** Set when the cache serves the source (--offline, or the real one was unreachable). */
  offline?: 'offline' | 'unreachable';
  transport: TransportOptions;
  /** The document the reference points at, verified. */
  root: LoadedDocument;
}

/**
 * Open the source (the cache's copy when offline) and load its root document. A registry
 * reference naming no tag gets the run's kind's default tag (the disk kind: `<major>.<minor>` of
 * `machineOsVersion`; the rootfs kind and others: `latest`). The source is closed
 * again when its root cannot be loaded; otherwise the caller closes it.
 */
export async function resolveSource(
  orchestrator: Orchestrator,
  requested: string,
  signal: AbortSignal,
): Promise<Resolved> {
  const settings = orchestrator.settings;
  orchestrator.hooks.progress.call({ phase: 'resolve', message: withoutUserinfo(requested) });
  const transport = {
    ...settings.transport,
    defaultTag: orchestrator.kinds.defaultTag(settings),
  };
  const { source, offline } = await openPullSource(orchestrator, requested, transport, signal);
  try {
    if (!source.root)
      throw new OcipullError(
        'INTERNAL',
        `transport ${source.scheme} resolved ${requested} without a root descriptor`,
      );
    const root = await loadDocument(orchestrator, source, source.root, signal);
    return { requested, source, offline, transport, root };
  } catch (error) {
    await source.close?.();
    throw error;
  }
}

/**
 * Keep what was resolved (reference → root, every document read) so it can be pulled offline
 * later. A cache that cannot costs a warning, not the pull.
 */
export async function rememberResolution(
  orchestrator: Orchestrator,
  cache: BlobCache | undefined,
  resolved: Resolved,
  documents: LoadedDocument[],
): Promise<void> {
  if (!cache?.remember || resolved.offline) return;
  const { source } = resolved;
  await cache
    .remember({ requested: resolved.requested, defaultTag: resolved.transport.defaultTag, source, documents })
    .catch((e: unknown) =>
      orchestrator.log.warn(`cache: cannot remember ${source.reference}: ${(e as Error).message}`),
    );
}
