import { rmSync } from 'node:fs';

/**
 * Temp files and staging directories not yet committed or discarded: removed (recursively) if
 * the process exits first. One registry for every kind of staged output.
 */
const live = new Set<string>();
let exitHook = false;

/** Remove `path` at exit unless {@link forgetOnExit} is called first. */
export function removeOnExit(path: string): void {
  live.add(path);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const staged of live) {
      try {
        rmSync(staged, { recursive: true, force: true });
      } catch {}
    }
  });
}

/** `path` was committed (renamed into place) or discarded: leave it alone at exit. */
export function forgetOnExit(path: string): void {
  live.delete(path);
}
