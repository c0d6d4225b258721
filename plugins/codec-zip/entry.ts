/**
 * A streaming reader for a zip archive holding one file: the local header at the start names the
 * method; the central directory at the end (kept in a bounded tail) gives the entry count, CRC-32
 * and size the output is checked against. APPNOTE.TXT: https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT
 */
import { Transform } from 'node:stream';
import { decodeError, OcipullError } from 'ocipull';

const LOCAL = 0x04034b50;
const CENTRAL = 0x02014b50;
const EOCD64 = 0x06064b50;
const TAIL_BYTES = 1 << 20;

export interface ZipEntry {
  name: string;
  method: number;
  /** General purpose flags (bit 3: sizes in a data descriptor after the data). */
  flags: number;
  /** Length of the local header, name and extra field included. */
  headerLength: number;
}

export interface ZipDirectory {
  entries: number;
  crc32: number;
  size: number;
  compressedSize: number;
  name: string;
  /** Where the entry's local header is, by the directory. */
  localOffset: number;
  /** Where the central directory starts, and its length, by the end record. */
  offset: number;
  length: number;
  /** Length of the one central directory record. */
  recordLength: number;
}

/** Passes through the entry's compressed bytes; reports the header, then the central directory at the end. */
export class ZipEntryReader extends Transform {
  entry?: ZipEntry;
  directory?: ZipDirectory;
  private head: Buffer[] = [];
  private headBytes = 0;
  /** Compressed bytes still to pass on; Infinity when the size is only in a data descriptor. */
  private remaining = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private tailStart = 0;
  private position = 0;

  constructor() {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      this.keepTail(chunk);
      let data = chunk;
      if (!this.entry) {
        this.head.push(chunk);
        this.headBytes += chunk.length;
        const header = Buffer.concat(this.head);
        const parsed = parseLocalHeader(header);
        if (!parsed) {
          callback();
          return;
        }
        this.head = [];
        this.entry = parsed.entry;
        this.remaining = parsed.compressedSize;
        data = header.subarray(parsed.headerLength);
      }
      if (this.remaining > 0 && data.length > 0) {
        const n = Math.min(this.remaining, data.length);
        this.remaining -= n;
        this.push(data.subarray(0, n));
      }
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: (error?: Error | null) => void): void {
    try {
      if (!this.entry)
        throw decodeError(
          'zip',
          'truncated',
          `the archive ends inside its first header (${this.headBytes} bytes)`,
        );
      if (this.remaining > 0 && Number.isFinite(this.remaining)) {
        throw decodeError('zip', 'truncated', `${this.remaining} bytes of ${this.entry.name} are missing`);
      }
      this.directory = parseCentralDirectory(Buffer.concat(this.tail), this.tailStart);
      checkAgreement(this.entry, this.directory);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  private keepTail(chunk: Buffer): void {
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    this.position += chunk.length;
    while (this.tail.length > 1 && this.tailBytes - this.tail[0]!.length >= TAIL_BYTES) {
      const dropped = this.tail.shift()!;
      this.tailBytes -= dropped.length;
      this.tailStart += dropped.length;
    }
  }
}

export function parseLocalHeader(
  buf: Buffer,
): { entry: ZipEntry; headerLength: number; compressedSize: number } | undefined {
  if (buf.length < 30) return undefined;
  if (buf.readUInt32LE(0) !== LOCAL)
    throw decodeError('zip', 'corrupt', 'the data does not start with a zip local file header');
  const flags = buf.readUInt16LE(6);
  const method = buf.readUInt16LE(8);
  const nameLength = buf.readUInt16LE(26);
  const extraLength = buf.readUInt16LE(28);
  const headerLength = 30 + nameLength + extraLength;
  if (buf.length < headerLength) return undefined;
  const name = buf.toString('utf8', 30, 30 + nameLength);
  if (flags & 1)
    throw new OcipullError('NO_CODEC', `zip entry ${name} is encrypted`, {
      hint: 'publish the disk unencrypted',
    });
  if (method !== 0 && method !== 8) {
    throw new OcipullError('NO_CODEC', `zip entry ${name} uses compression method ${method}`, {
      hint: 'stored (0) and deflate (8) are read',
    });
  }
  let compressedSize = buf.readUInt32LE(18);
  const zip64 = findZip64(buf.subarray(30 + nameLength, headerLength));
  if (compressedSize === 0xffffffff && zip64) compressedSize = Number(zip64.readBigUInt64LE(8));
  if (flags & 8) {
    if (method === 0)
      throw new OcipullError('NO_CODEC', `zip entry ${name} is stored with no size in its header`, {
        hint: 'deflate it, or write the zip to a file rather than a pipe',
      });
    compressedSize = Number.POSITIVE_INFINITY; // the deflate stream marks its own end
  }
  return { entry: { name, method, flags, headerLength }, headerLength, compressedSize };
}

function findZip64(extra: Buffer): Buffer | undefined {
  for (let i = 0; i + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(i);
    const size = extra.readUInt16LE(i + 2);
    if (id === 0x0001) return extra.subarray(i + 4, i + 4 + size);
    i += 4 + size;
  }
  return undefined;
}

function parseCentralDirectory(tail: Buffer, tailStart: number): ZipDirectory {
  const eocd = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0 || tail.length - eocd < 22)
    throw decodeError('zip', 'truncated', 'the archive has no end-of-central-directory record');
  let entries = tail.readUInt16LE(eocd + 10);
  let length = tail.readUInt32LE(eocd + 12);
  let offset = tail.readUInt32LE(eocd + 16);
  if (offset === 0xffffffff || entries === 0xffff || length === 0xffffffff) {
    const record = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x06, 0x06]), eocd);
    if (record < 0 || tail.readUInt32LE(record) !== EOCD64)
      throw decodeError('zip', 'corrupt', 'the zip64 end record is missing');
    entries = Number(tail.readBigUInt64LE(record + 32));
    length = Number(tail.readBigUInt64LE(record + 40));
    offset = Number(tail.readBigUInt64LE(record + 48));
  }
  if (entries !== 1) {
    throw decodeError(
      'zip',
      'corrupt',
      `the archive holds ${entries} entries; a disk zip must hold exactly one file`,
    );
  }
  const at = offset - tailStart;
  if (at < 0 || at + 46 > tail.length || tail.readUInt32LE(at) !== CENTRAL) {
    throw decodeError('zip', 'corrupt', 'the central directory is not where the end record says');
  }
  const crc32 = tail.readUInt32LE(at + 16);
  let compressedSize = tail.readUInt32LE(at + 20);
  let size = tail.readUInt32LE(at + 24);
  const nameLength = tail.readUInt16LE(at + 28);
  const extraLength = tail.readUInt16LE(at + 30);
  const commentLength = tail.readUInt16LE(at + 32);
  let localOffset = tail.readUInt32LE(at + 42);
  if (at + 46 + nameLength + extraLength > tail.length)
    throw decodeError('zip', 'corrupt', 'the central directory record is cut short');
  const name = tail.toString('utf8', at + 46, at + 46 + nameLength);
  // The zip64 extra holds, in this order, only the fields whose 32-bit value is 0xffffffff.
  const zip64 = findZip64(tail.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength));
  let field = 0;
  const wide = (value: number) => {
    if (value !== 0xffffffff || !zip64 || zip64.length < field + 8) return value;
    const wider = Number(zip64.readBigUInt64LE(field));
    field += 8;
    return wider;
  };
  size = wide(size);
  compressedSize = wide(compressedSize);
  localOffset = wide(localOffset);
  const recordLength = 46 + nameLength + extraLength + commentLength;
  return { entries, crc32, size, compressedSize, name, localOffset, offset, length, recordLength };
}

/**
 * The archive streamed is the one the directory describes: its one record names the entry at
 * offset 0, the directory holds that record only, and it starts right after the entry's data
 * (and data descriptor). Otherwise a reader going by the directory would see another file.
 */
function checkAgreement(entry: ZipEntry, dir: ZipDirectory): void {
  const disagree = (detail: string) =>
    decodeError('zip', 'corrupt', `its local entries and central directory disagree: ${detail}`);
  if (dir.localOffset !== 0)
    throw disagree(`the directory lists an entry at offset ${dir.localOffset}, not the one at the start`);
  if (dir.name !== entry.name)
    throw disagree(
      `the directory names ${JSON.stringify(dir.name)}, the local header ${JSON.stringify(entry.name)}`,
    );
  if (dir.length !== dir.recordLength)
    throw disagree(`the directory is ${dir.length} bytes, its one record ${dir.recordLength}`);
  const end = entry.headerLength + dir.compressedSize;
  // A data descriptor: 12 or 16 bytes (signature optional), 20 or 24 with zip64 sizes.
  const gaps = entry.flags & 8 ? [12, 16, 20, 24] : [0];
  if (!gaps.some((gap) => end + gap === dir.offset)) {
    throw disagree(
      `${dir.offset - end} bytes lie between the entry's data and the directory (another local entry?)`,
    );
  }
}
