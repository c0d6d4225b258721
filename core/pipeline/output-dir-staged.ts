import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OcipullError } from '../errors/errors.js';
import { forgetOnExit, removeOnExit } from './exit-cleanup.js';

function stagedPrefix(target: string): string {
  return `.${basename(target).slice(0, 180)}.`;
}

function stagedName(target: string, suffix: string): string {
  return join(
    dirname(target),
    `${stagedPrefix(target)}${process.pid}-${randomBytes(4).toString('hex')}${suffix}`,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/**
 * Remove staging directories left beside `target` by runs that were killed (SIGKILL, power loss):
 * ours by name, of a process that no longer exists. A `.ocipull-old` directory (a replaced output
 * renamed aside) is never removed: until its replacement was in place it was the only copy.
 */
async function removeOrphans(target: string, companions: readonly string[]): Promise<void> {
  const prefix = stagedPrefix(target);
  let names: string[];
  try {
    names = await fsp.readdir(dirname(target));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const rest = name.slice(prefix.length);
    const companion = companions.find((suffix) => rest.endsWith(`.ocipull-tmp${suffix}`));
    const stem = companion === undefined ? rest : rest.slice(0, -companion.length);
    const pid = Number(/^(\d+)-[0-9a-f]{8}\.ocipull-tmp$/.exec(stem)?.[1]);
    if (!(pid > 0) || pid === process.pid || alive(pid)) continue;
    const path = join(dirname(target), name);
    try {
      const info = await fsp.lstat(path);
      if (companion === undefined ? info.isDirectory() : info.isFile())
        await fsp.rm(path, { recursive: true, force: true });
    } catch {
      // not ours to remove: skipped
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function failed(target: string, error: unknown): OcipullError {
  if (error instanceof OcipullError) return error;
  return new OcipullError('OUTPUT_FAILED', `cannot write ${target}: ${(error as Error).message}`, {
    cause: error,
  });
}

/**
 * A directory output (`files`, `tree`) being built: a temp directory beside the target, made
 * visible by `commit` with one rename. With `replace`, an existing directory at the target is
 * renamed aside first and removed after; anything else there (a file, a device) is never replaced.
 * `discard` (any failure, an interrupt) removes the staging directory and leaves the target as it was.
 */
export class StagedDir {
  private done = false;

  private constructor(
    readonly target: string,
    readonly path: string,
    private readonly replace: boolean,
    /** Suffixes of files beside the staging directory committed with it (Plan.companions). */
    private readonly companions: readonly string[],
    private readonly becomes: 'directory' | 'file',
  ) {}

  /**
   * OUTPUT_EXISTS when something is at the target that this output may not replace: with
   * `replace`, a directory output replaces a directory, one that `finish` turns into a file
   * (`becomes: 'file'`) a regular file; `either` (the plan not known yet) accepts both.
   */
  static async checkTarget(
    target: string,
    replace: boolean,
    becomes: 'directory' | 'file' | 'either' = 'directory',
  ): Promise<void> {
    let stat: import('node:fs').Stats;
    try {
      stat = await fsp.lstat(target);
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return;
      throw failed(target, error);
    }
    if (!replace) {
      throw new OcipullError('OUTPUT_EXISTS', `${target} already exists`, {
        hint: 'pass --replace to overwrite it, or choose another -o',
      });
    }
    const isDir = stat.isDirectory();
    const isFile = stat.isFile();
    if (becomes === 'directory' ? !isDir : becomes === 'file' ? !isFile : !isDir && !isFile) {
      const what = becomes === 'either' ? 'a directory or a file' : `a ${becomes}`;
      throw new OcipullError('OUTPUT_EXISTS', `${target} exists and is not ${what}`, {
        hint: `--replace replaces ${what} with this output, nothing else: choose another -o`,
      });
    }
  }

  static async create(
    target: string,
    options: { replace: boolean; companions?: readonly string[]; becomes?: 'directory' | 'file' },
  ): Promise<StagedDir> {
    const companions = options.companions ?? [];
    const becomes = options.becomes ?? 'directory';
    await StagedDir.checkTarget(target, options.replace, becomes);
    await removeOrphans(target, companions);
    const path = stagedName(target, '.ocipull-tmp');
    try {
      await fsp.mkdir(path, { mode: 0o755 });
    } catch (error) {
      throw failed(target, error);
    }
    removeOnExit(path);
    for (const suffix of companions) removeOnExit(`${path}${suffix}`);
    return new StagedDir(target, path, options.replace, companions, becomes);
  }

  /** Move the staged directory onto the target with one rename. */
  async commit(): Promise<void> {
    let aside: string | undefined;
    let committed = false;
    try {
      await StagedDir.checkTarget(this.target, this.replace, this.becomes);
      if (this.replace) {
        aside = stagedName(this.target, '.ocipull-old');
        try {
          // Never removed on exit: until the staged one is in place it is the user's only copy.
          await fsp.rename(this.target, aside);
        } catch (error) {
          if ((error as { code?: string }).code !== 'ENOENT') throw error;
          aside = undefined;
        }
      }
      try {
        await fsp.rename(this.path, this.target);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'EEXIST' || code === 'ENOTEMPTY' || code === 'ENOTDIR') {
          throw new OcipullError('OUTPUT_EXISTS', `${this.target} appeared while pulling`, {
            hint: 'pass --replace to overwrite it',
          });
        }
        throw error;
      }
      committed = true;
      this.done = true;
      forgetOnExit(this.path);
      await this.commitCompanions();
      await syncDir(dirname(this.target));
    } catch (error) {
      // Put back what was there before, then drop what was staged.
      if (aside && !committed) await fsp.rename(aside, this.target).catch(() => {});
      if (!committed) await this.discard();
      throw failed(this.target, error);
    } finally {
      if (aside && committed) await fsp.rm(aside, { recursive: true, force: true }).catch(() => {});
    }
  }

  /** Each companion file goes to `<target><suffix>`; an old one whose output was replaced goes. */
  private async commitCompanions(): Promise<void> {
    for (const suffix of this.companions) {
      const staged = `${this.path}${suffix}`;
      try {
        await fsp.rename(staged, `${this.target}${suffix}`);
      } catch (error) {
        if ((error as { code?: string }).code !== 'ENOENT') throw error;
        // None staged (a root run writes no record): the old output's one described the old output.
        if (this.replace) await fsp.rm(`${this.target}${suffix}`, { force: true });
      }
      forgetOnExit(staged);
    }
  }

  async discard(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await fsp.rm(this.path, { recursive: true, force: true });
    forgetOnExit(this.path);
    for (const suffix of this.companions) {
      await fsp.rm(`${this.path}${suffix}`, { recursive: true, force: true });
      forgetOnExit(`${this.path}${suffix}`);
    }
  }
}
