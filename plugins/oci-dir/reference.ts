import { promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import nodePath, { type PlatformPath } from 'node:path';
import { checkTag, OcipullError, parseDigest, type SourceRef } from 'ocipull';

/** What an `oci-dir:` / `oci:` reference names: a layout directory and, optionally, a tag or a digest. */
export interface LayoutReference {
  scheme: string;
  /** Absolute path of the layout. */
  dir: string;
  tag?: string;
  digest?: string;
}

/** How paths are spelled and looked up: this host's by default; tests pass `path.win32`. */
export interface ReferenceHost {
  path?: PlatformPath;
  /** What `~` expands to (default: os.homedir()). */
  home?: string;
  isDirectory?(path: string): Promise<boolean>;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await fsp.stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** A drive letter (`C:\`, `C:/`) is part of a Windows path, never a tag separator. */
const DRIVE = /^[A-Za-z]:[\\/]/;

/**
 * Split `PATH[:TAG|@DIGEST]`. `oci-dir://PATH` is the seeds' spelling of `oci-dir:PATH`; `~` and
 * `~/...` are the home directory. Paths may hold colons: a tag is split off at the last colon only
 * when the whole string is not a directory itself, and the part before it is one (or the tag part
 * has no path separator). So `DIR:../x` is a tag (refused as TAG_INVALID), never a path. On
 * Windows a leading drive (`C:\`, `C:/`) belongs to the path, as skopeo reads it there.
 */
export async function parseLayoutReference(
  ref: SourceRef,
  host: ReferenceHost = {},
): Promise<LayoutReference> {
  const path = host.path ?? nodePath;
  const windows = path.sep === '\\';
  const directory = host.isDirectory ?? isDirectory;
  let spec = ref.rest;
  if (ref.scheme === 'oci-dir' && spec.startsWith('//')) spec = spec.slice(2);
  if (spec === '') {
    throw new OcipullError('REFERENCE_INVALID', `${JSON.stringify(ref.raw)} names no layout directory`, {
      hint: `${ref.scheme}:PATH, ${ref.scheme}:PATH:TAG or ${ref.scheme}:PATH@sha256:DIGEST`,
    });
  }
  const absolute = (p: string): string => {
    if (p === '~' || p.startsWith('~/') || (windows && p.startsWith('~\\'))) {
      return path.resolve(host.home ?? homedir(), p.slice(2));
    }
    return path.resolve(p);
  };
  const isDir = (p: string) => directory(absolute(p));
  const hasSeparator = (s: string) => s.includes('/') || (windows && s.includes('\\'));

  const at = /^(.*)@([a-z0-9]+:[^:@/\\]*)$/.exec(spec);
  if (at && !(await isDir(spec))) {
    parseDigest(at[2]!);
    return { scheme: ref.scheme, dir: absolute(at[1]!), digest: at[2]! };
  }
  if (await isDir(spec)) return { scheme: ref.scheme, dir: absolute(spec) };
  const drive = windows ? (DRIVE.exec(spec)?.[0] ?? '') : '';
  const colon = spec.lastIndexOf(':');
  if (colon > drive.length) {
    const dir = spec.slice(0, colon);
    const tag = spec.slice(colon + 1);
    if ((await isDir(dir)) || !hasSeparator(tag)) {
      return { scheme: ref.scheme, dir: absolute(dir), tag: checkTag(tag) };
    }
  }
  return { scheme: ref.scheme, dir: absolute(spec) };
}

/** The canonical, round-trippable spelling. */
export function formatLayoutReference(ref: LayoutReference): string {
  const suffix = ref.digest ? `@${ref.digest}` : ref.tag ? `:${ref.tag}` : '';
  return `${ref.scheme}:${ref.dir}${suffix}`;
}
