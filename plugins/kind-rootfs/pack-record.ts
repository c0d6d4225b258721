/** A rootless tree's record (`TREE.rootfs-record.jsonl`, apply/record.ts) as the exporter's owners hook. */
import { lstat } from 'node:fs/promises';
import type { OwnersHook } from '../tree-layer/api.js';
import { readRecord, recordPathFor } from './apply/record.js';

/** The owners hook of a tree's rootless record, and the recorded devices the tree lacks on disk. */
export async function recordOwners(tree: string): Promise<{ owners?: OwnersHook; absent: string[] }> {
  const meta = await readRecord(recordPathFor(tree));
  if (meta.size === 0) return { absent: [] };
  const absent: string[] = [];
  for (const [path, m] of meta) {
    if (m.type !== 'char' && m.type !== 'block') continue;
    const onDisk = await lstat(`${tree}/${path}`).then(
      () => true,
      () => false,
    );
    if (!onDisk) absent.push(path);
  }
  const owners: OwnersHook = (path) => {
    const m = meta.get(path === '.' ? '' : path);
    if (!m) return undefined;
    const device =
      m.type === 'char' || m.type === 'block'
        ? { type: m.type, major: m.rdev?.[0] ?? 0, minor: m.rdev?.[1] ?? 0 }
        : undefined;
    return {
      uid: m.uid,
      gid: m.gid,
      mode: m.mode,
      ...(device && { device }),
      ...(m.mtime !== undefined && { mtime: m.mtime }),
    };
  };
  return { owners, absent };
}
