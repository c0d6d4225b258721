/**
 * A built tree as a tar, with the image's owners, modes and devices (from the rootless record)
 * and its `user.*` extended attributes. Headers are ustar, with a PAX extended header (`x`) when a
 * name or link does not fit, a number is too large for its octal field, or the entry has xattrs
 * (`SCHILY.xattr.NAME`, values as raw bytes, binary ones included: GNU tar's and containerd's form).
 */

import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'ocipull';
import { readRecord, recordPathFor } from '../apply/record.js';
import { writeAtomically } from './tools.js';
import { walkTree } from './walk.js';
import { readTreeXattrs } from './xattrs.js';

export interface TarOptions {
  recordPath?: string;
  signal?: AbortSignal;
  log?: Logger;
}

const TYPEFLAGS = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
} as const;
const BLOCK = 512;

interface TarEntry {
  name: string;
  type: keyof typeof TYPEFLAGS;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: [string, Buffer][];
}

/** `len key=value\n`, the length counting itself. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length > length) length++;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

/** Write `value` as octal of `width - 1` digits and a NUL; false when it does not fit. */
function octal(block: Buffer, offset: number, width: number, value: number): boolean {
  const text = Math.max(0, Math.floor(value)).toString(8);
  if (text.length > width - 1) return false;
  block.write(`${text.padStart(width - 1, '0')}\0`, offset, 'latin1');
  return true;
}

const ascii = (text: string) => /^[\x20-\x7e]*$/.test(text);

function header(entry: {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
}): { block: Buffer; overflow: boolean } {
  const block = Buffer.alloc(BLOCK);
  block.write(entry.name, 0, 100, 'utf8');
  let fits = true;
  fits = octal(block, 100, 8, entry.mode) && fits;
  fits = octal(block, 108, 8, entry.uid) && fits;
  fits = octal(block, 116, 8, entry.gid) && fits;
  fits = octal(block, 124, 12, entry.size) && fits;
  fits = octal(block, 136, 12, entry.mtime) && fits;
  block.write(entry.typeflag, 156, 'latin1');
  if (entry.linkname) block.write(entry.linkname, 157, 100, 'utf8');
  block.write('ustar\u000000', 257, 'latin1');
  octal(block, 329, 8, entry.devmajor ?? 0);
  octal(block, 337, 8, entry.devminor ?? 0);
  block.write('        ', 148, 'latin1');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return { block, overflow: !fits };
}

/** The header blocks of one entry: a PAX header first when anything does not fit ustar. */
function encode(entry: TarEntry): Buffer[] {
  const typeflag = TYPEFLAGS[entry.type];
  const fields = { ...entry, typeflag };
  const records: Buffer[] = [];
  const nameFits = Buffer.byteLength(entry.name) <= 100 && ascii(entry.name);
  if (!nameFits) records.push(paxRecord('path', Buffer.from(entry.name)));
  const link = entry.linkname;
  const linkFits = link === undefined || (Buffer.byteLength(link) <= 100 && ascii(link));
  if (!linkFits) records.push(paxRecord('linkpath', Buffer.from(link!)));
  const plain = header(fields);
  if (plain.overflow) {
    for (const key of ['uid', 'gid', 'size', 'mtime'] as const)
      records.push(paxRecord(key, Buffer.from(String(Math.floor(entry[key])))));
  }
  for (const [name, value] of entry.xattrs ?? []) records.push(paxRecord(`SCHILY.xattr.${name}`, value));
  if (records.length === 0) return [plain.block];
  const pax = Buffer.concat(records);
  const clip = (text: string) =>
    Buffer.from(text)
      .subarray(0, 99)
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '_');
  const paxHeader = header({
    name: clip(`PaxHeaders/${entry.name}`),
    typeflag: 'x',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: pax.length,
    mtime: entry.mtime,
  });
  const clamp = (n: number, width: number) => Math.min(n, 8 ** (width - 1) - 1);
  const own = header({
    ...fields,
    name: nameFits ? entry.name : clip(entry.name),
    linkname: linkFits ? link : link && clip(link),
    uid: clamp(entry.uid, 8),
    gid: clamp(entry.gid, 8),
    size: plain.overflow ? clamp(entry.size, 12) : entry.size,
    mtime: clamp(entry.mtime, 12),
  });
  return [paxHeader.block, pax, padding(pax.length), own.block];
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

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
        const item: TarEntry = {
          name: meta.type === 'directory' ? `${entry.path}/` : entry.path,
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
          ...(table.has(entry.path) && !entry.linkTo ? { xattrs: table.get(entry.path) } : {}),
        };
        for (const chunk of encode(item)) await write(sink, chunk);
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
      await write(sink, Buffer.alloc(BLOCK * 2));
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
