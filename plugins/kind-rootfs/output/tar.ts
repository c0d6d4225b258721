/**
 * A built tree as a tar, with the image's owners, modes and devices (from the rootless record)
 * and its `user.*` extended attributes. The headers are the tree exporter's (plugins/tree-layer/tar.ts:
 * ustar, with a PAX header when a name, link or number does not fit or the entry has xattrs, their
 * values as raw bytes).
 */

import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'ocipull';
import { readRecord, recordPathFor } from '../apply/record.js';
import { END_OF_ARCHIVE, encodeHeader, padding, type TarHeader } from '../tar-headers.js';
import { writeAtomically } from './tools.js';
import { walkTree } from './walk.js';
import { readTreeXattrs } from './xattrs.js';

export interface TarOptions {
  recordPath?: string;
  signal?: AbortSignal;
  log?: Logger;
}

async function write(out: WriteStream, chunk: Buffer): Promise<void> {
  if (chunk.length === 0) return;
  if (!out.write(chunk)) await once(out, 'drain');
}

/** Write the tree at `tree` as a tar at `out` (hardlinks as links, xattrs as PAX records). */
export async function treeToTar(
  tree: string,
  out: string,
  options: TarOptions = {},
): Promise<{ entries: number }> {
  const record = await readRecord(options.recordPath ?? recordPathFor(tree));
  const { table } = await readTreeXattrs(tree, options.log, options.signal);
  let entries = 0;
  await writeAtomically(out, async (temp) => {
    const sink = createWriteStream(temp, { flags: 'wx' });
    const failed = new Promise<never>((_, reject) => sink.once('error', reject));
    failed.catch(() => {});
    const writing = (async () => {
      for await (const entry of walkTree(tree, record)) {
        options.signal?.throwIfAborted();
        if (entry.path === '') continue;
        const { meta } = entry;
        const type = entry.linkTo ? 'link' : meta.type;
        const size = type === 'file' ? entry.size : 0;
        const item: TarHeader = {
          name: entry.path,
          type,
          mode: meta.mode,
          uid: meta.uid,
          gid: meta.gid,
          size,
          mtime: Math.floor(entry.mtime),
          ...(entry.linkTo
            ? { linkname: entry.linkTo }
            : meta.type === 'symlink'
              ? { linkname: await readlink(join(tree, entry.path)) }
              : {}),
          ...(meta.rdev ? { devmajor: meta.rdev[0], devminor: meta.rdev[1] } : {}),
          ...(table.has(entry.path) && !entry.linkTo ? { xattrs: new Map(table.get(entry.path)) } : {}),
        };
        await write(sink, encodeHeader(item));
        entries++;
        if (size > 0) {
          let copied = 0;
          for await (const chunk of createReadStream(join(tree, entry.path), { signal: options.signal })) {
            const buffer = chunk as Buffer;
            const room = size - copied;
            // A file that grew meanwhile is cut at its size, one that shrank padded: the header stands.
            const piece = buffer.length > room ? buffer.subarray(0, room) : buffer;
            await write(sink, piece);
            copied += piece.length;
            if (copied === size) break;
          }
          if (copied < size) await write(sink, Buffer.alloc(size - copied));
          await write(sink, padding(size));
        }
      }
      await write(sink, END_OF_ARCHIVE);
      sink.end();
      await once(sink, 'finish');
    })();
    try {
      await Promise.race([writing, failed]);
    } catch (error) {
      sink.destroy();
      await writing.catch(() => {});
      throw error;
    }
  });
  return { entries };
}
