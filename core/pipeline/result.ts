import type { Plan } from '../kinds/types.js';
import type { Orchestrator } from '../orchestrator.js';
import type { PullResult } from '../types.js';
import type { Placed } from './parts.js';
import type { Resolved } from './resolve.js';

/** The result of a pull (its first part's facts for the disk kind's one-part plan), announced by `afterPull`. */
export async function finishPull(
  orchestrator: Orchestrator,
  resolved: Resolved,
  plan: Plan,
  placed: Placed,
  output: string,
  started: number,
): Promise<PullResult> {
  const first = placed.outcomes[0]!;
  const { outcomes } = placed;
  const bytesWritten = outcomes.reduce((sum, o) => sum + o.bytesWritten, 0);
  const result: PullResult = {
    source: resolved.source.reference,
    manifestDigest: plan.manifestDescriptor.digest,
    blobDigest: plan.parts[0]!.descriptor.digest,
    diskType: plan.diskType ?? plan.kind,
    platform: {
      os: plan.platform.os,
      architecture: plan.platform.architecture,
      ...(plan.platform.variant ? { variant: plan.platform.variant } : {}),
    },
    output,
    cacheHit: outcomes.every((o) => o.cacheHit),
    bytesFetched: outcomes.reduce((sum, o) => sum + o.bytesFetched, 0),
    durationMs: Date.now() - started,
    // Another kind's own facts (the kernel's command line, files, ...) are part of the stable result.
    ...(plan.kind !== 'disk' ? { kind: plan.kind, facts: { ...plan.details } } : {}),
    details: {
      ...plan.details,
      codec: first.codec,
      layerKind: first.kind,
      resumedFrom: first.resumedFrom,
      offline: resolved.offline,
      decodedFromCache: first.decoded,
      ...(outcomes.length > 1
        ? {
            kind: plan.kind,
            parts: plan.parts.map((part, i) => ({
              role: part.role,
              digest: part.descriptor.digest,
              codec: outcomes[i]!.codec,
              cacheHit: outcomes[i]!.cacheHit,
              bytesWritten: outcomes[i]!.bytesWritten,
            })),
          }
        : {}),
    },
  };
  orchestrator.hooks.progress.call({ phase: 'done', bytes: bytesWritten });
  await orchestrator.hooks.afterPull.promise(result);
  return result;
}
