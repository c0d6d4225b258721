import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

/**
 * Run a compiled test script (`script`: its path under dist/, e.g. `test/rootfs/pull-child.js`)
 * as nobody:nogroup without supplementary groups (setpriv), `request` as its one JSON argument;
 * what it prints is parsed as JSON. `home` becomes HOME (the user's config and cache defaults).
 */
export function runAsNobody<T>(script: string, request: unknown, home?: string): T {
  const out = execFileSync(
    'setpriv',
    [
      '--reuid=nobody',
      '--regid=nogroup',
      '--clear-groups',
      process.execPath,
      join(repoRoot, 'dist', script),
      JSON.stringify(request),
    ],
    { encoding: 'utf8', cwd: repoRoot, env: { ...process.env, ...(home ? { HOME: home } : {}) } },
  );
  return JSON.parse(out) as T;
}
