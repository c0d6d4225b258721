/**
 * The tar headers of a tree layer, written by hand so every byte is ours to fix: ustar blocks
 * (POSIX.1-1988), with a PAX extended header (POSIX.1-2001 `x`) before an entry whose path or link
 * is longer than its field, whose owner, size or mtime does not fit, or that carries xattrs
 * (`SCHILY.xattr.NAME`, the raw value bytes, as GNU tar and Go's archive/tar write them). No uname,
 * gname, atime or ctime is written, so a header depends only on what the layer means.
 */

export type TarType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

export interface TarHeader {
  /** The path in the layer: relative, `/`-separated; directories without the trailing `/`. */
  name: string;
  type: TarType;
  /** Permission bits with setuid, setgid and sticky (12 bits). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content (regular files only; 0 for the rest). */
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** A symlink's target, or the layer path a hardlink names. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, written sorted by name. */
  xattrs?: ReadonlyMap<string, Buffer>;
}

export const BLOCK = 512;
/** Two zero blocks end the archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

const TYPEFLAG: Record<TarType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
};

/** The largest value an octal field of `width` bytes holds (width-1 digits and a NUL). */
const maxOctal = (width: number) => 8 ** (width - 1) - 1;

function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  block.write(`${value.toString(8).padStart(width - 1, '0')}\0`, offset, width, 'latin1');
}

function writeBytes(block: Buffer, offset: number, width: number, bytes: Buffer): void {
  bytes.copy(block, offset, 0, Math.min(width, bytes.length));
}

/** One PAX record: `LEN KEY=VALUE\n`, LEN counting itself. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length), 'latin1'), body]);
}

function ustar(
  name: Buffer,
  typeflag: string,
  fields: { mode: number; uid: number; gid: number; size: number; mtime: number },
  linkname: Buffer,
  devmajor = 0,
  devminor = 0,
): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeBytes(block, 0, 100, name);
  writeOctal(block, 100, 8, fields.mode & 0o7777);
  writeOctal(block, 108, 8, fields.uid);
  writeOctal(block, 116, 8, fields.gid);
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, fields.mtime);
  block.fill(0x20, 148, 156);
  block.write(typeflag, 156, 1, 'latin1');
  writeBytes(block, 157, 100, linkname);
  block.write('ustar\x0000', 257, 8, 'latin1');
  writeOctal(block, 329, 8, devmajor);
  writeOctal(block, 337, 8, devminor);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}

/** Zero bytes that round `size` up to a whole block. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

/** The header block(s) of one entry: a PAX header and its records first when needed. */
export function encodeHeader(header: TarHeader): Buffer {
  const name = Buffer.from(header.type === 'directory' ? `${header.name}/` : header.name, 'utf8');
  const linkname = Buffer.from(header.linkname ?? '', 'utf8');
  const records: Buffer[] = [];
  const fields = {
    mode: header.mode,
    uid: header.uid,
    gid: header.gid,
    size: header.size,
    mtime: header.mtime,
  };
  if (name.length > 100) records.push(paxRecord('path', name));
  if (linkname.length > 100) records.push(paxRecord('linkpath', linkname));
  for (const key of ['uid', 'gid', 'size', 'mtime'] as const) {
    const width = key === 'size' || key === 'mtime' ? 12 : 8;
    const value = fields[key];
    if (value < 0 || value > maxOctal(width)) {
      records.push(paxRecord(key, Buffer.from(String(value), 'latin1')));
      fields[key] = 0;
    }
  }
  if (header.xattrs) {
    const names = [...header.xattrs.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const key of names) records.push(paxRecord(`SCHILY.xattr.${key}`, header.xattrs.get(key)!));
  }
  const main = ustar(
    name,
    TYPEFLAG[header.type],
    fields,
    linkname,
    header.devmajor ?? 0,
    header.devminor ?? 0,
  );
  if (records.length === 0) return main;
  const body = Buffer.concat(records);
  const paxName = Buffer.from('PaxHeader', 'latin1');
  const pax = ustar(
    paxName,
    'x',
    { mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0 },
    Buffer.alloc(0),
  );
  return Buffer.concat([pax, body, padding(body.length), main]);
}
