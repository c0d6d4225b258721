import type { Plan } from '../kinds/types.js';
import type { Orchestrator } from '../orchestrator.js';
import type { BlobCache, CacheOrigin } from '../types.js';
import type { Placed } from './parts.js';

/**
 * Make the output visible with one rename: the file written beside the target, or the staging
 * directory (after `plan.finish(staging)`). Then tell the cache each part's entry was used; the
 * output is in place by then, so a cache that cannot record it costs a warning, not the pull.
 */
export async function commitOutput(
  orchestrator: Orchestrator,
  plan: Plan,
  placed: Placed,
  cache: BlobCache | undefined,
  origins: CacheOrigin[],
  signal: AbortSignal,
): Promise<void> {
  const { staged } = placed;
  if (staged) {
    try {
      await plan.finish?.(staged.path, signal);
      signal.throwIfAborted();
    } catch (error) {
      await staged.discard();
      throw error;
    }
    await staged.commit();
  } else {
    await placed.outcomes[0]?.out?.commit();
  }
  for (const [index, part] of plan.parts.entries()) {
    const digest = part.descriptor.digest;
    try {
      await cache?.used?.(digest, origins[index]!);
    } catch (error) {
      orchestrator.log.warn(
        `cache: cannot record the use of ${digest}: ${(error as Error)?.message ?? error}`,
      );
    }
  }
}
