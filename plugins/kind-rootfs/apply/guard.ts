/**
 * tar-stream holds a PAX or GNU long-name record in memory whole before the entry it describes:
 * a hostile layer announcing a gigabyte of "header" would fill memory, not disk. This pass-through
 * reads the tar's block headers as the bytes flow and stops such a record before it is buffered.
 * It also stops GNU sparse entries (type S), which tar-stream would misread.
 */
import { Transform } from 'node:stream';
import { formatSize, OcipullError } from 'ocipull';

/** The largest PAX / GNU long-name record taken (names, xattrs: far below in real layers). */
export const MAX_META_RECORD = 1 << 20;

const META_TYPES = new Set(['x', 'g', 'L', 'K']);

/** A ustar size field: octal text, or base-256 when the high bit of its first byte is set. */
function sizeOf(field: Buffer): number {
  if ((field[0]! & 0x80) !== 0) {
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = field
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .trim();
  const value = Number.parseInt(text || '0', 8);
  return Number.isFinite(value) ? value : 0;
}

export function metaGuard(label: string): Transform {
  let header = Buffer.alloc(0);
  let skip = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      let offset = 0;
      while (offset < chunk.length) {
        if (skip > 0) {
          const n = Math.min(skip, chunk.length - offset);
          skip -= n;
          offset += n;
          continue;
        }
        const take = chunk.subarray(offset, offset + 512 - header.length);
        header = header.length === 0 ? Buffer.from(take) : Buffer.concat([header, take]);
        offset += take.length;
        if (header.length < 512) break;
        const block = header;
        header = Buffer.alloc(0);
        const size = sizeOf(block.subarray(124, 136));
        const type = String.fromCharCode(block[156]!);
        if (META_TYPES.has(type) && size > MAX_META_RECORD) {
          done(
            new OcipullError(
              'LAYER_SIZE_LIMIT',
              `${label}: a ${type === 'x' || type === 'g' ? 'PAX' : 'GNU long-name'} header record of ${formatSize(size)} (the limit for one is ${formatSize(MAX_META_RECORD)})`,
              {
                hint: 'PAX and GNU records carry names and attributes: a few KiB in real layers',
                data: { scope: 'record', limit: MAX_META_RECORD },
              },
            ),
          );
          return;
        }
        if (type === 'S') {
          // Old GNU sparse: its map runs on in extension blocks the size does not count, and
          // tar-stream would write the packed segments as the whole file (silently wrong).
          done(
            new OcipullError(
              'LAYER_INVALID',
              `${label}: entry ${JSON.stringify(block.subarray(0, 100).toString('utf8').replace(/\0.*$/s, ''))} is a GNU sparse file (tar type S), which is not supported`,
              {
                hint: 'make the layer without sparse entries (GNU tar without --sparse; Go, Docker and umoci write none)',
              },
            ),
          );
          return;
        }
        skip = Math.ceil(size / 512) * 512;
      }
      done(null, chunk);
    },
  });
}
