/**
 * PAX extended headers read with xattr values kept as bytes. tar-stream decodes every PAX value
 * as UTF-8, which turns a binary `SCHILY.xattr.*` value (a capability set, an ACL) into U+FFFD
 * replacement characters; `keepBinaryXattrs` makes one extractor decode its PAX headers here
 * instead: keywords and other values as UTF-8, xattr values as latin1 strings (one char a byte).
 */
const XATTR = 'SCHILY.xattr.';
const SPACE = 0x20;
const EQUALS = 0x3d;

/** `LEN KEY=VALUE\n` records → keyword → value (xattr values latin1, the rest UTF-8). */
export function decodePax(buf: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  let at = 0;
  while (at < buf.length) {
    const space = buf.indexOf(SPACE, at);
    if (space === -1) break;
    const length = Number.parseInt(buf.toString('latin1', at, space), 10);
    if (!Number.isSafeInteger(length) || length <= 0 || at + length > buf.length) break;
    const record = buf.subarray(space + 1, at + length - 1);
    const equals = record.indexOf(EQUALS);
    if (equals === -1) break;
    const key = record.toString('utf8', 0, equals);
    result[key] = record.toString(key.startsWith(XATTR) ? 'latin1' : 'utf8', equals + 1);
    at += length;
  }
  return result;
}

/** The bytes of a value `decodePax` returned for an xattr. */
export function xattrBytes(value: string): Buffer {
  return Buffer.from(value, 'latin1');
}

interface PaxExtractor {
  _header?: { type?: string } | null;
  _paxGlobal: Record<string, string> | null;
  _pax: Record<string, string> | null;
  _decodeLongHeader(buf: Buffer): void;
}

/**
 * Decode this extractor's PAX headers with {@link decodePax} (its own instance only; GNU long
 * names stay tar-stream's). Relies on tar-stream 3's extractor fields, checked here: if they are
 * not there, nothing is changed and values stay tar-stream's.
 */
export function keepBinaryXattrs(extract: object): boolean {
  const x = extract as PaxExtractor;
  const original = x._decodeLongHeader;
  if (typeof original !== 'function' || !('_paxGlobal' in x) || !('_pax' in x)) return false;
  x._decodeLongHeader = function (this: PaxExtractor, buf: Buffer) {
    const type = this._header?.type;
    if (type === 'pax-global-header') this._paxGlobal = decodePax(buf);
    else if (type === 'pax-header') this._pax = { ...(this._paxGlobal ?? {}), ...decodePax(buf) };
    else original.call(this, buf);
  };
  return true;
}
