/**
 * Paths resolved inside the tree, never through it: every component is looked at with lstat, a
 * symlink met on the way is read and its target resolved as if the tree were `/` (`..` stops at
 * the root, an absolute target starts again at the root), like umoci's securejoin and Go's
 * os.Root. The last component of what is written is never followed (callers lstat / unlink it).
 * The tree belongs to the applier alone while a layer is applied: only the layer's own entries
 * can plant links, and each is seen here before it can redirect anything.
 */
import { lstat, mkdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { OcipullError } from 'ocipull';

/** Symlinks followed while resolving one path (Linux's own limit is 40). */
export const MAX_LINKS = 40;

export interface ResolveOptions {
  /** Make missing directories (mode 0755); else a missing one resolves to undefined. */
  create: boolean;
  /** Told of every directory made (relative components). */
  onCreate?(rel: string[]): Promise<void>;
}

/** `root` joined with relative components (already resolved: no symlink among them). */
export const under = (root: string, rel: readonly string[]): string =>
  rel.length === 0 ? root : join(root, ...rel);

/**
 * The real directory (relative components, symlink-free) that `parts` names inside `root`.
 * A component that exists and is not a directory or symlink is LAYER_INVALID.
 */
export async function resolveDir(
  root: string,
  parts: readonly string[],
  options: ResolveOptions,
): Promise<string[] | undefined> {
  const queue = [...parts];
  const stack: string[] = [];
  let links = 0;
  while (queue.length > 0) {
    const part = queue.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      stack.pop();
      continue;
    }
    const full = under(root, [...stack, part]);
    let info: Awaited<ReturnType<typeof lstat>>;
    try {
      info = await lstat(full);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (!options.create) return undefined;
      await mkdir(full, { mode: 0o755 });
      stack.push(part);
      await options.onCreate?.([...stack]);
      continue;
    }
    if (info.isSymbolicLink()) {
      if (++links > MAX_LINKS) {
        throw new OcipullError(
          'LAYER_INVALID',
          `${JSON.stringify(parts.join('/'))} goes through more than ${MAX_LINKS} symbolic links`,
          { hint: 'a path in the image resolves through a bounded chain of links' },
        );
      }
      const target = await readlink(full);
      if (target.startsWith('/')) stack.length = 0;
      queue.unshift(...target.split('/'));
      continue;
    }
    if (!info.isDirectory()) {
      throw new OcipullError(
        'LAYER_INVALID',
        `${JSON.stringify(parts.join('/'))}: ${JSON.stringify([...stack, part].join('/'))} is not a directory`,
        { hint: 'a layer replaces a file by a directory with a directory entry before entries under it' },
      );
    }
    stack.push(part);
  }
  return stack;
}
