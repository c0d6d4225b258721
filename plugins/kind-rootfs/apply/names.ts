import { OcipullError } from 'ocipull';

/** Longest name of one path component Linux file systems take. */
const NAME_MAX = 255;

/** The opaque whiteout's base name (image-spec layer.md). */
export const OPAQUE = '.wh..wh..opq';
/** The prefix of a whiteout's base name. */
export const WHITEOUT = '.wh.';

/** A hostile header can carry megabytes of name: messages show only its start. */
export function shown(name: string): string {
  return JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
}

function unsafe(what: string, name: string, why: string): OcipullError {
  return new OcipullError('LAYER_UNSAFE_PATH', `${what} ${shown(name)} ${why}`, {
    hint: 'layer entries are relative paths inside the image (etc/passwd, ./usr/bin/sh) without `..`',
    data: { name: name.slice(0, 200) },
  });
}

/**
 * The components of a tar entry name or hardlink target, relative to the image root.
 * `./a//b/` gives ['a', 'b']; the root itself gives []. Absolute names, `..` components, NUL bytes
 * and components over 255 bytes are refused with LAYER_UNSAFE_PATH.
 */
export function components(name: string, what = 'layer entry'): string[] {
  if (name.startsWith('/')) throw unsafe(what, name, 'is an absolute path');
  if (name.includes('\u0000')) throw unsafe(what, name, 'holds a NUL byte');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw unsafe(what, name, 'climbs out with ..');
  const long = parts.find((p) => Buffer.byteLength(p) > NAME_MAX);
  if (long !== undefined) throw unsafe(what, name, `has a component over ${NAME_MAX} bytes`);
  return parts;
}

/** What a name means for the tree: an entry, a whiteout of a sibling, or an opaque marker. */
export type NameKind =
  | { kind: 'entry'; parts: string[] }
  | { kind: 'whiteout'; parent: string[]; target: string }
  | { kind: 'opaque'; parent: string[] };

export function classify(name: string): NameKind {
  const parts = components(name);
  const base = parts.at(-1);
  if (base === undefined || !base.startsWith(WHITEOUT)) return { kind: 'entry', parts };
  const parent = parts.slice(0, -1);
  if (base === OPAQUE) return { kind: 'opaque', parent };
  const target = base.slice(WHITEOUT.length);
  if (target === '' || target === '.' || target === '..') {
    throw unsafe('whiteout', name, 'names no sibling');
  }
  return { kind: 'whiteout', parent, target };
}
