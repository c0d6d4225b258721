/**
 * The rootless record: what the tree on disk cannot hold when the applier is not root (owners,
 * the exact modes, device nodes), kept beside the tree so outputs (tar, ext4, erofs) still carry
 * the image's metadata. docs/rootfs.md describes the format.
 *
 * One JSON object a line, appended in the order the layers were applied; a reader folds them:
 * - `{"op":"set","path":"usr/bin/su","type":"file","mode":2541,"uid":0,"gid":0}` (mode: the 12
 *   permission bits; `rdev: [major, minor]` for `char` / `block`, which are not on disk rootless);
 * - `{"op":"link","path":"a/hard","target":"a/file"}` (a hardlink: the target's metadata);
 * - `{"op":"delete","path":"etc/old"}` (the path and everything under it are gone).
 * Paths are relative to the tree, `/`-separated, without `./`; `""` is the root itself.
 */
import { type FileHandle, open, readFile } from 'node:fs/promises';

export type EntryType = 'file' | 'directory' | 'symlink' | 'fifo' | 'char' | 'block';

export interface EntryMeta {
  type: EntryType;
  /** Permission bits including setuid, setgid and sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  rdev?: [number, number];
  /** Seconds; only for devices, which are not on disk rootless to carry it. */
  mtime?: number;
}

export type RecordLine =
  | ({ op: 'set'; path: string } & EntryMeta)
  | { op: 'link'; path: string; target: string }
  | { op: 'delete'; path: string };

/** The record's file for a tree: a sibling, so renaming the tree never carries it inside. */
export const recordPathFor = (tree: string): string => `${tree.replace(/\/+$/, '')}.rootfs-record.jsonl`;

const FLUSH_BYTES = 64 * 1024;

/** Appends lines to a record file (created when missing); call `close()` after the last layer. */
export class RecordWriter {
  private pending: string[] = [];
  private pendingBytes = 0;
  private handle?: FileHandle;
  /** Device nodes recorded but not on disk: whiteouts and opaque markers must still find them. */
  readonly devices = new Set<string>();

  constructor(readonly path: string) {}

  async add(line: RecordLine): Promise<void> {
    if (line.op === 'set' && (line.type === 'char' || line.type === 'block')) this.devices.add(line.path);
    else if (line.op !== 'link') this.devices.delete(line.path);
    const text = `${JSON.stringify(line)}\n`;
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes >= FLUSH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    this.handle ??= await open(this.path, 'a', 0o600);
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    await this.handle.write(text);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.handle?.close();
    this.handle = undefined;
  }
}

/** Fold record lines into the metadata of every path still recorded. */
export function foldRecord(lines: Iterable<RecordLine>): Map<string, EntryMeta> {
  const meta = new Map<string, EntryMeta>();
  for (const line of lines) {
    if (line.op === 'set') {
      const { op: _op, path, ...rest } = line;
      meta.set(path, rest);
    } else if (line.op === 'link') {
      const target = meta.get(line.target);
      if (target) meta.set(line.path, target);
    } else {
      const prefix = line.path === '' ? '' : `${line.path}/`;
      for (const key of [...meta.keys()]) {
        if (key === line.path || key.startsWith(prefix)) meta.delete(key);
      }
    }
  }
  return meta;
}

/** Read a record file (an absent file is an empty record: the applier was root). */
export async function readRecord(path: string): Promise<Map<string, EntryMeta>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  const lines = text.split('\n').filter((l) => l !== '');
  return foldRecord(lines.map((l) => JSON.parse(l) as RecordLine));
}
