/**
 * Binary xattr values in a layer's PAX headers (a file capability, bytes that are not UTF-8)
 * reach the tree byte for byte; text values, names and the PAX path keep their UTF-8.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { applyLayer } from '../../plugins/kind-rootfs/apply/apply.js';
import { decodePax } from '../../plugins/kind-rootfs/apply/pax.js';
import { END_OF_ARCHIVE, encodeHeader } from '../../plugins/tree-layer/tar.js';
import { tempDir } from '../support/paths.js';

const BINARY = Buffer.from([0x00, 0xff, 0x01, 0xc3, 0x28, 0x80, 0xfe]);
const TEXT = Buffer.from('grüße', 'utf8');
const LONG = `${'ü'.repeat(90)}/${'é'.repeat(60)}.txt`;

function layer(): Buffer {
  const content = Buffer.from('hello\n');
  const header = encodeHeader({
    name: LONG,
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: content.length,
    mtime: 1_700_000_000,
    xattrs: new Map([
      ['user.binary', BINARY],
      ['user.text', TEXT],
    ]),
  });
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, pad, END_OF_ARCHIVE]);
}

const hexOf = (path: string, name: string) =>
  execFileSync('getfattr', ['--absolute-names', '-e', 'hex', '--only-values', '-n', name, path]);

describe('binary xattrs in layers', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir: base, cleanup } = await tempDir('ocipull-xattr-binary-'));
  });
  after(() => cleanup());

  it('decodePax keeps xattr values as bytes and the rest as UTF-8', () => {
    const record = (key: string, value: Buffer) => {
      const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
      let length = body.length + 1;
      while (String(length).length + body.length !== length) length++;
      return Buffer.concat([Buffer.from(String(length)), body]);
    };
    const pax = decodePax(
      Buffer.concat([record('path', Buffer.from(LONG)), record('SCHILY.xattr.user.binary', BINARY)]),
    );
    assert.equal(pax.path, LONG);
    assert.deepEqual(Buffer.from(pax['SCHILY.xattr.user.binary']!, 'latin1'), BINARY);
  });

  it('applyLayer sets the exact bytes, under the UTF-8 long name', async () => {
    const root = join(base, 'tree');
    await mkdir(root);
    await applyLayer(Readable.from([layer()]), root, { asRoot: true });
    const file = join(root, LONG);
    assert.equal(await readFile(file, 'utf8'), 'hello\n');
    // --only-values prints the value as its raw bytes.
    assert.deepEqual(hexOf(file, 'user.binary'), BINARY);
    assert.deepEqual(hexOf(file, 'user.text'), TEXT);
  });
});
