import { randomBytes } from 'node:crypto';
import { constants, promises as fsp, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { OcipullError, spaceErrno } from 'ocipull';
import { cacheError, errnoOf } from './paths.js';

/**
 * Why `dir` cannot serve as a cache directory, in words, or undefined when it looks usable:
 * a plain file, a dangling symlink, a parent that is a file, a read-only filesystem, no
 * write permission. Looked up only after something failed, to say what is wrong.
 */
export async function diagnoseDir(dir: string): Promise<string | undefined> {
  let stat: Stats | undefined;
  try {
    stat = await fsp.lstat(dir);
  } catch (error) {
    if (errnoOf(error) === 'ENOTDIR') return `a parent of ${dir} is a plain file, not a directory`;
    if (errnoOf(error) !== 'ENOENT') return `${dir} cannot be looked at (${errnoOf(error)})`;
  }
  if (stat?.isSymbolicLink()) {
    const target = await fsp.readlink(dir).catch(() => '?');
    try {
      stat = await fsp.stat(dir);
    } catch {
      return `${dir} is a symlink to ${target}, which does not exist`;
    }
    if (!stat.isDirectory()) return `${dir} is a symlink to ${target}, which is not a directory`;
  }
  if (stat && !stat.isDirectory()) return `${dir} is a plain file, not a directory`;
  // The directory, or the nearest parent it would be created in, must be writable.
  let at = dir;
  if (!stat) {
    for (let parent = dirname(at); ; parent = dirname(parent)) {
      const s = await fsp.stat(parent).catch(() => undefined);
      if (s) {
        if (!s.isDirectory()) return `${parent}, a parent of ${dir}, is a plain file, not a directory`;
        at = parent;
        break;
      }
      if (dirname(parent) === parent) return undefined;
    }
  }
  try {
    await fsp.access(at, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'EROFS') return `${at} is on a read-only filesystem`;
    return `${at} is not writable by this user (${code})`;
  }
  // access() does not see read-only bind mounts or immutable directories: try a write.
  const probe = join(at, `.ocipull-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await fsp.writeFile(probe, '', { flag: 'wx', mode: 0o600 });
    await fsp.rm(probe, { force: true });
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'EROFS') return `${at} is on a read-only filesystem`;
    if (code === 'EPERM') return `${at} refuses new files (EPERM: immutable, or a policy forbids it)`;
    if (code === 'EACCES') return `${at} is not writable by this user (EACCES)`;
  }
  return undefined;
}

/** `cacheError` with, when the failure is about the directory itself, what is wrong with it. */
export async function cacheDirError(dir: string, action: string, error: unknown): Promise<OcipullError> {
  const base = cacheError(dir, action, error);
  if (base.code !== 'CACHE_FAILED' || spaceErrno(error)) return base;
  const code = errnoOf(error) ?? errnoOf((error as { cause?: unknown })?.cause);
  if (!['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'ELOOP', 'EEXIST'].includes(code ?? '')) return base;
  const what = await diagnoseDir(dir);
  if (!what) return base;
  return new OcipullError('CACHE_FAILED', `cache ${dir}: cannot ${action}: ${what}`, {
    hint: 'choose another --cache-dir (or cacheDir in config), or make this one a writable directory',
    cause: error,
  });
}
