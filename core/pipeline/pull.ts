import type { Orchestrator } from '../orchestrator.js';
import type { PullResult } from '../types.js';
import { commitOutput } from './commit.js';
import { originOf, placeParts } from './parts.js';
import { diskRequest, planPull } from './plan.js';
import { rememberResolution, resolveSource } from './resolve.js';
import { finishPull } from './result.js';
import { checkTarget, outputPath } from './target.js';

export { majorMinor } from './resolve.js';

export interface PullRequest {
  /** TRANSPORT:REFERENCE; the configured default source when absent. */
  source?: string;
  /** Output file or directory; the preset's output name in the working directory when absent. */
  output?: string;
  signal?: AbortSignal;
}

/**
 * A pull, phase by phase: check the target → beforePull → resolve the source and its root → ask
 * the kind for a plan → name the output → remember the resolution → fetch, decode and place
 * every part → commit the output with one rename → the result, afterPull.
 */
export async function runPull(orchestrator: Orchestrator, request: PullRequest): Promise<PullResult> {
  const started = Date.now();
  const settings = orchestrator.settings;
  const signal = request.signal ?? new AbortController().signal;
  const requested = request.source ?? settings.defaultSource;
  const kind = orchestrator.kinds.has(settings.kind) ? orchestrator.kinds.get(settings.kind) : undefined;
  const target = await checkTarget(request.output, settings.replace, kind?.outputIsPath === true);
  await orchestrator.hooks.beforePull.promise({
    source: requested,
    output: target.explicit ?? target.dir!,
    want: diskRequest(orchestrator),
  });
  const resolved = await resolveSource(orchestrator, requested, signal);
  try {
    const { plan, documents } = await planPull(orchestrator, resolved, signal);
    const output = await outputPath(target, plan, settings.replace);
    const cache = await orchestrator.getCache();
    await rememberResolution(orchestrator, cache, resolved, documents);
    const parts = { orchestrator, resolved, plan, output, cache, signal };
    const placed = await placeParts(parts);
    const origins = plan.parts.map((part) => originOf(parts, part));
    await commitOutput(orchestrator, plan, placed, cache, origins, signal);
    return await finishPull(orchestrator, resolved, plan, placed, output, started);
  } finally {
    await resolved.source.close?.();
  }
}
