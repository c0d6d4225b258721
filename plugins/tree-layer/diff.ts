/**
 * The layer of what a tree changes on a base tree: applied on the base's layers it yields the
 * tree exactly (image-spec layer.md "Representing Changes"). It holds
 * - every entry added or changed (type, mode, owner, mtime, size, content, link target, device
 *   numbers, xattrs or hardlink group differ); a hardlink group with any such member is written
 *   whole (its first path as the file, the others as links), so no link names a lower layer;
 * - a whiteout `.wh.NAME` for each path the tree lacks whose parent it still has as a directory
 *   (a path whose parent is gone or is no longer a directory goes with that parent);
 * - an opaque whiteout `DIR/.wh..wh..opq` instead, for the topmost directory (not the root) kept as
 *   a directory of which the tree keeps nothing unchanged and removes something: every entry under
 *   it is then new or changed and written anyway, so the marker replaces the whiteouts for free.
 * A type change needs no whiteout: an entry replaces whatever non-directory (or, unless both are
 * directories, whatever tree) the path held.
 * Entries are in bytewise path order; an opaque marker comes right after its directory, before
 * any entry inside it, so it can only hide what lower layers put there.
 */
import { promises as fsp } from 'node:fs';
import { type LayerOptions, type TreeLayer, whiteoutEntry, writeLayer } from './layer.js';
import { layerMediaType } from './media.js';
import { comparePaths, type OwnersHook, scanTree, type TreeEntry } from './scan.js';

export interface DiffOptions extends LayerOptions {
  /** Owners record of the new tree. */
  owners?: OwnersHook;
  /** Owners record of the base tree. */
  baseOwners?: OwnersHook;
  /** Recorded paths the new tree / the base tree lacks on disk (see ScanOptions.absent). */
  absent?: readonly string[];
  baseAbsent?: readonly string[];
  /** Read `user.*` xattrs of both trees (default: when getfattr is installed). */
  xattrs?: boolean;
}

export interface DiffLayer extends TreeLayer {
  /** Paths new in the tree. */
  added: number;
  /** Paths in both whose entry changed (hardlink group members written again included). */
  changed: number;
  /** Whiteout markers written. */
  whiteouts: string[];
  /** Directories made opaque. */
  opaque: string[];
}

const parentOf = (path: string) => {
  const at = path.lastIndexOf('/');
  return at < 0 ? '.' : path.slice(0, at);
};
const whiteoutOf = (path: string) => {
  const at = path.lastIndexOf('/');
  return at < 0 ? `.wh.${path}` : `${path.slice(0, at)}/.wh.${path.slice(at + 1)}`;
};

/** Hardlink group of each grouped path: its members joined (they share the first path). */
function groups(entries: TreeEntry[]): Map<string, string[]> {
  const byFirst = new Map<string, string[]>();
  for (const entry of entries) {
    const first = entry.type === 'link' ? entry.linkname! : entry.inode ? entry.path : undefined;
    if (first === undefined) continue;
    const members = byFirst.get(first) ?? [];
    members.push(entry.path);
    byFirst.set(first, members);
  }
  const out = new Map<string, string[]>();
  for (const members of byFirst.values()) for (const path of members) out.set(path, members);
  return out;
}

function sameXattrs(a?: Map<string, Buffer>, b?: Map<string, Buffer>): boolean {
  if ((a?.size ?? 0) !== (b?.size ?? 0)) return false;
  for (const [key, value] of a ?? []) if (!b?.get(key)?.equals(value)) return false;
  return true;
}

async function sameContent(a: string, b: string, size: number): Promise<boolean> {
  if (size === 0) return true;
  const [ha, hb] = await Promise.all([fsp.open(a, 'r'), fsp.open(b, 'r')]);
  try {
    const chunk = Math.min(size, 1 << 20);
    const ba = Buffer.alloc(chunk);
    const bb = Buffer.alloc(chunk);
    for (let at = 0; at < size; at += chunk) {
      const [ra, rb] = await Promise.all([ha.read(ba, 0, chunk, at), hb.read(bb, 0, chunk, at)]);
      if (ra.bytesRead !== rb.bytesRead || !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead)))
        return false;
      if (ra.bytesRead === 0) break;
    }
    return true;
  } finally {
    await Promise.all([ha.close(), hb.close()]);
  }
}

async function sameEntry(
  base: TreeEntry,
  next: TreeEntry,
  baseGroup: string[] | undefined,
  nextGroup: string[] | undefined,
): Promise<boolean> {
  if (
    base.type !== next.type ||
    base.mode !== next.mode ||
    base.uid !== next.uid ||
    base.gid !== next.gid ||
    base.size !== next.size ||
    base.mtime !== next.mtime ||
    base.linkname !== next.linkname ||
    base.devmajor !== next.devmajor ||
    base.devminor !== next.devminor ||
    !sameXattrs(base.xattrs, next.xattrs) ||
    (baseGroup ?? []).join('\0') !== (nextGroup ?? []).join('\0')
  ) {
    return false;
  }
  if (next.type === 'file' && base.source && next.source)
    return sameContent(base.source, next.source, next.size);
  return true;
}

/** The layer that turns the tree at `baseDir` into the tree at `dir`. */
export async function diffLayer(baseDir: string, dir: string, options: DiffOptions = {}): Promise<DiffLayer> {
  layerMediaType(options.format ?? 'oci', options.compress ?? 'gzip');
  const scan = { xattrs: options.xattrs, signal: options.signal, log: options.log };
  const baseEntries = await scanTree(baseDir, {
    ...scan,
    owners: options.baseOwners,
    absent: options.baseAbsent,
  });
  const nextEntries = await scanTree(dir, { ...scan, owners: options.owners, absent: options.absent });
  const base = new Map(baseEntries.map((e) => [e.path, e]));
  const next = new Map(nextEntries.map((e) => [e.path, e]));
  const baseGroups = groups(baseEntries);
  const nextGroups = groups(nextEntries);

  const written = new Set<string>();
  let added = 0;
  for (const entry of nextEntries) {
    const old = base.get(entry.path);
    if (!old) added++;
    if (!old || !(await sameEntry(old, entry, baseGroups.get(entry.path), nextGroups.get(entry.path)))) {
      written.add(entry.path);
    }
  }
  for (const path of [...written]) for (const member of nextGroups.get(path) ?? []) written.add(member);

  // Per directory kept in both: how many base entries under it stay unchanged / go away.
  const kept = new Map<string, number>();
  const removedUnder = new Map<string, number>();
  const bump = (counts: Map<string, number>, path: string) => {
    for (let dir = parentOf(path); dir !== '.'; dir = parentOf(dir))
      counts.set(dir, (counts.get(dir) ?? 0) + 1);
  };
  for (const entry of baseEntries) {
    if (entry.path === '.') continue;
    if (!next.has(entry.path)) bump(removedUnder, entry.path);
    else if (!written.has(entry.path)) bump(kept, entry.path);
  }
  const isDirInBoth = (path: string) =>
    base.get(path)?.type === 'directory' && next.get(path)?.type === 'directory';
  const opaque: string[] = [];
  const opaqueSet = new Set<string>();
  const underOpaque = (path: string) => {
    for (let dir = parentOf(path); dir !== '.'; dir = parentOf(dir)) if (opaqueSet.has(dir)) return true;
    return false;
  };
  for (const entry of baseEntries) {
    const path = entry.path;
    if (path === '.' || !isDirInBoth(path) || underOpaque(path)) continue;
    if ((kept.get(path) ?? 0) === 0 && (removedUnder.get(path) ?? 0) > 0) {
      opaque.push(path);
      opaqueSet.add(path);
    }
  }
  const whiteouts: string[] = [];
  for (const entry of baseEntries) {
    if (entry.path === '.' || next.has(entry.path)) continue;
    if (
      next.get(parentOf(entry.path))?.type !== 'directory' ||
      base.get(parentOf(entry.path))?.type !== 'directory'
    )
      continue;
    if (opaqueSet.has(parentOf(entry.path)) || underOpaque(entry.path)) continue;
    whiteouts.push(whiteoutOf(entry.path));
  }

  const layer: { key: string; entry: TreeEntry }[] = [];
  for (const entry of nextEntries) if (written.has(entry.path)) layer.push({ key: entry.path, entry });
  for (const path of whiteouts) layer.push({ key: path, entry: whiteoutEntry(path) });
  for (const path of opaque) layer.push({ key: `${path}/\0`, entry: whiteoutEntry(`${path}/.wh..wh..opq`) });
  layer.sort((a, b) => (a.key === '.' ? -1 : b.key === '.' ? 1 : comparePaths(a.key, b.key)));

  const result = await writeLayer(
    layer.map((l) => l.entry),
    options,
  );
  return { ...result, added, changed: written.size - added, whiteouts, opaque };
}
