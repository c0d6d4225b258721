import type { Orchestrator } from '../orchestrator.js';

export type ProgressMode = 'auto' | 'plain' | 'json' | 'none';

/** Minimal reporter (the codec/progress work replaces it with bars and JSON lines). Returns a detach function. */
export function attachProgress(
  orchestrator: Orchestrator,
  mode: ProgressMode,
  stream: NodeJS.WritableStream,
): () => void {
  if (mode === 'none') return () => {};
  let last = 0;
  orchestrator.hooks.progress.tap('ocipull-cli-progress', (event) => {
    const now = Date.now();
    if (mode === 'json') {
      stream.write(`${JSON.stringify(event)}\n`);
      return;
    }
    if (event.phase === 'done' || now - last > 3000) {
      last = now;
      stream.write(
        `${event.phase}${event.bytes !== undefined ? ` ${event.bytes} bytes` : ''}${event.message ? ` ${event.message}` : ''}\n`,
      );
    }
  });
  return () => {};
}
