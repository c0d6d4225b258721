import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/..., three or more levels down). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
/** The CLI launcher. */
export const cliPath = join(repoRoot, 'bin', 'ocipull.js');
/** ../shared/bench beside the repository (present in CI). */
/** ../shared/bench beside the repository (OCIPULL_BENCH_SCRIPTS elsewhere, e.g. from a git worktree). */
export const benchDir = process.env.OCIPULL_BENCH_SCRIPTS ?? join(repoRoot, '..', 'shared', 'bench');

/** A fresh temp directory, removed by the returned cleanup. */
export async function tempDir(
  prefix = 'ocipull-test-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
