import { promises as fsp } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { OcipullError } from '../errors/errors.js';
import type { Plan } from '../kinds/types.js';
import { OutputFile } from './output.js';
import { StagedDir } from './output-dir-staged.js';

/** Where the output goes, as far as it is known before anything is fetched. */
export interface Target {
  /** `-o PATH` naming the output itself. */
  explicit?: string;
  /** `-o DIR`, `-o DIR/` or no `-o`: the output is named by the plan inside it. */
  dir?: string;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await fsp.stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function makeOutputDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  } catch (error) {
    const code = (error as { code?: string }).code;
    const reason =
      code === 'EEXIST' || code === 'ENOTDIR'
        ? 'it, or one of its parents, exists and is not a directory'
        : (error as Error).message;
    throw new OcipullError('OUTPUT_FAILED', `cannot make the output directory ${dir}: ${reason}`, {
      hint: 'choose a directory that exists or can be made, or a file path as -o',
      cause: error,
    });
  }
}

/**
 * Check the output target before anything is fetched: an explicit `-o PATH` must be writable
 * (OUTPUT_EXISTS, OUTPUT_NOT_FILE); `-o DIR/` names a directory, made (mkdir -p, 0755) at once so
 * `pull -o ~/vms/` works on a fresh machine. For a kind whose output is a path (`outputIsPath`:
 * a tree), `-o PATH` is the output even when PATH is an existing directory: replaced with
 * `--replace`, else OUTPUT_EXISTS.
 */
export async function checkTarget(
  output: string | undefined,
  replace: boolean,
  outputIsPath = false,
): Promise<Target> {
  if (outputIsPath && output !== undefined && !output.endsWith('/')) {
    const explicit = resolvePath(output);
    // The plan, not known yet, says whether the tree stays a directory or becomes a file.
    await StagedDir.checkTarget(explicit, replace, 'either');
    return { explicit };
  }
  const outputIsDir = output === undefined || output.endsWith('/') || (await isDirectory(output));
  if (!outputIsDir) {
    const explicit = resolvePath(output);
    await OutputFile.checkTarget(explicit, replace);
    return { explicit };
  }
  const dir = resolvePath(output ?? '.');
  if (output?.endsWith('/')) await makeOutputDir(dir);
  return { dir };
}

/** The output path once the plan is known: `-o PATH`, or the plan's output name inside the directory. */
export async function outputPath(target: Target, plan: Plan, replace: boolean): Promise<string> {
  if (target.explicit) return target.explicit;
  const output = join(target.dir!, plan.outputName ?? plan.kind);
  if (plan.output.type === 'file') await OutputFile.checkTarget(output, replace);
  else
    await StagedDir.checkTarget(
      output,
      replace,
      plan.output.type === 'tree' && plan.output.file ? 'file' : 'directory',
    );
  return output;
}
