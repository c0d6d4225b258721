import { promises as fsp } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { checkTag, OcipullError, parseDigest, type SourceRef } from 'ocipull';

/** What an `oci-dir:` / `oci:` reference names: a layout directory and, optionally, a tag or a digest. */
export interface LayoutReference {
  scheme: string;
  /** Absolute path of the layout. */
  dir: string;
  tag?: string;
  digest?: string;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await fsp.stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Split `PATH[:TAG|@DIGEST]`. `oci-dir://PATH` is the seeds' spelling of `oci-dir:PATH`. Paths may
 * hold colons: a tag is split off only when the whole string is not a directory itself, and the
 * part before the last colon is one (or the tag part has no `/`). So `DIR:../x` is a tag (refused
 * as TAG_INVALID), never a path.
 */
export async function parseLayoutReference(ref: SourceRef): Promise<LayoutReference> {
  let spec = ref.rest;
  if (ref.scheme === 'oci-dir' && spec.startsWith('//')) spec = spec.slice(2);
  if (spec === '') {
    throw new OcipullError('REFERENCE_INVALID', `${JSON.stringify(ref.raw)} names no layout directory`, {
      hint: `${ref.scheme}:PATH, ${ref.scheme}:PATH:TAG or ${ref.scheme}:PATH@sha256:DIGEST`,
    });
  }
  const at = /^(.*)@([a-z0-9]+:[^:@/]*)$/.exec(spec);
  if (at && !(await isDirectory(spec))) {
    parseDigest(at[2]!);
    return { scheme: ref.scheme, dir: resolvePath(at[1]!), digest: at[2]! };
  }
  if (await isDirectory(spec)) return { scheme: ref.scheme, dir: resolvePath(spec) };
  const colon = spec.lastIndexOf(':');
  if (colon > 0) {
    const path = spec.slice(0, colon);
    const tag = spec.slice(colon + 1);
    if ((await isDirectory(path)) || !tag.includes('/')) {
      return { scheme: ref.scheme, dir: resolvePath(path), tag: checkTag(tag) };
    }
  }
  return { scheme: ref.scheme, dir: resolvePath(spec) };
}

/** The canonical, round-trippable spelling. */
export function formatLayoutReference(ref: LayoutReference): string {
  const suffix = ref.digest ? `@${ref.digest}` : ref.tag ? `:${ref.tag}` : '';
  return `${ref.scheme}:${ref.dir}${suffix}`;
}
