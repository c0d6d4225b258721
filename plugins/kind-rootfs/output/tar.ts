/** A built tree as a tar, with the image's owners, modes and devices (from the rootless record). */
import { createReadStream, createWriteStream } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar, { type Header } from 'tar-stream';
import { readRecord, recordPathFor } from '../apply/record.js';
import { writeAtomically } from './tools.js';
import { walkTree } from './walk.js';

export interface TarOptions {
  recordPath?: string;
  signal?: AbortSignal;
}

const TAR_TYPES = {
  file: 'file',
  directory: 'directory',
  symlink: 'symlink',
  fifo: 'fifo',
  char: 'character-device',
  block: 'block-device',
} as const;

/** Write the tree at `tree` as a tar at `out` (PAX for long names; hardlinks as links). */
export async function treeToTar(
  tree: string,
  out: string,
  options: TarOptions = {},
): Promise<{ entries: number }> {
  const record = await readRecord(options.recordPath ?? recordPathFor(tree));
  let entries = 0;
  await writeAtomically(out, async (temp) => {
    const pack = tar.pack();
    const writing = pipeline(pack, createWriteStream(temp, { flags: 'wx' }), { signal: options.signal });
    try {
      for await (const entry of walkTree(tree, record)) {
        if (entry.path === '') continue;
        const { meta } = entry;
        const header: Partial<Header> & { name: string } = {
          name: meta.type === 'directory' ? `${entry.path}/` : entry.path,
          mode: meta.mode,
          uid: meta.uid,
          gid: meta.gid,
          mtime: new Date(Math.floor(entry.mtime) * 1000),
          type: entry.linkTo ? 'link' : TAR_TYPES[meta.type],
          size: entry.linkTo || meta.type !== 'file' ? 0 : entry.size,
          uname: '',
          gname: '',
        };
        if (entry.linkTo) header.linkname = entry.linkTo;
        else if (meta.type === 'symlink') header.linkname = await readlink(join(tree, entry.path));
        if (meta.rdev) [header.devmajor, header.devminor] = meta.rdev;
        entries++;
        if (header.type === 'file' && header.size) {
          const sink = pack.entry(header);
          await pipeline(createReadStream(join(tree, entry.path)), sink);
        } else {
          await new Promise<void>((resolve, reject) =>
            pack.entry(header, (e) => (e ? reject(e) : resolve())),
          );
        }
      }
      pack.finalize();
    } catch (error) {
      pack.destroy(error as Error);
      await writing.catch(() => {});
      throw error;
    }
    await writing;
  });
  return { entries };
}
