import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from 'ocipull';
import { xattrBytes } from './pax.js';

const run = promisify(execFile);
const PAX_XATTR = 'SCHILY.xattr.';

/** The extended attributes a PAX header carries (`SCHILY.xattr.NAME=value`; values as pax.ts reads them). */
export function xattrsOf(pax: Record<string, string> | undefined): [string, string][] {
  if (!pax) return [];
  return Object.entries(pax)
    .filter(([key]) => key.startsWith(PAX_XATTR))
    .map(([key, value]) => [key.slice(PAX_XATTR.length), value]);
}

/**
 * Set `xattrs` on `path` without following it (setfattr -h; Node has no xattr call). `user.*`
 * always; the other namespaces (trusted, security, system) only as root. Nothing here fails the
 * layer: an attribute the file system or the user cannot take is a warning.
 */
export async function applyXattrs(
  path: string,
  name: string,
  xattrs: [string, string][],
  asRoot: boolean,
  log?: Logger,
): Promise<void> {
  for (const [key, value] of xattrs) {
    if (!asRoot && !key.startsWith('user.')) {
      log?.warn(`${name}: extended attribute ${key} skipped (needs root)`);
      continue;
    }
    const encoded = `0s${xattrBytes(value).toString('base64')}`;
    try {
      await run('setfattr', ['-h', '-n', key, '-v', encoded, '--', path]);
    } catch (error) {
      const why = ((error as { stderr?: string }).stderr ?? String(error)).trim().split('\n')[0];
      log?.warn(`${name}: extended attribute ${key} not set (${why})`);
    }
  }
}
