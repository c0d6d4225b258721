/** The tar encoder read back by tar-stream: PAX records across their length's digit boundaries. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import tar from 'tar-stream';
import { END_OF_ARCHIVE, encodeHeader, type TarHeader } from './tar.js';

async function readBack(headers: TarHeader[]) {
  const extract = tar.extract();
  const out: {
    name: string;
    linkname?: string | null;
    uid?: number;
    mtime?: Date;
    pax?: Record<string, string>;
  }[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      out.push({ ...entry.header, pax: (entry.header.pax as Record<string, string>) ?? undefined });
      entry.resume();
    }
  })();
  extract.end(Buffer.concat([...headers.map(encodeHeader), END_OF_ARCHIVE]));
  await done;
  return out;
}

test('long paths and link targets of every length near a PAX length boundary read back exactly', async () => {
  const lengths = [99, 100, 101, 102, 180, 988, 989, 990, 991, 992, 993, 994, 995, 996, 1000, 4000];
  const headers: TarHeader[] = lengths.map((n) => ({
    name: `d/${'x'.repeat(n - 2)}`,
    type: 'symlink',
    mode: 0o777,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 1,
    linkname: `t/${'y'.repeat(n - 2)}`,
  }));
  const back = await readBack(headers);
  assert.deepEqual(
    back.map((h) => [h.name, h.linkname]),
    headers.map((h) => [h.name, h.linkname]),
  );
});

test('owners and mtimes past the ustar fields go to PAX; xattr values keep their bytes', async () => {
  const [entry] = await readBack([
    {
      name: 'f',
      type: 'file',
      mode: 0o644,
      uid: 2 ** 21,
      gid: 5,
      size: 0,
      mtime: 8 ** 11,
      xattrs: new Map([
        ['user.z', Buffer.from('zz')],
        ['user.a', Buffer.from('é=\n')],
      ]),
    },
  ]);
  // tar-stream leaves PAX uid and mtime in `pax` (Go's archive/tar, as umoci uses, applies them).
  assert.equal(entry?.pax?.uid, String(2 ** 21));
  assert.equal(entry?.pax?.mtime, String(8 ** 11));
  assert.equal(entry?.uid, 0);
  assert.equal(entry?.pax?.['SCHILY.xattr.user.a'], 'é=\n');
  assert.equal(entry?.pax?.['SCHILY.xattr.user.z'], 'zz');
});

test('a header depends only on its fields: the same entry encodes to the same bytes', () => {
  const header: TarHeader = {
    name: 'a/b',
    type: 'directory',
    mode: 0o1777,
    uid: 1,
    gid: 2,
    size: 0,
    mtime: 3,
  };
  const one = encodeHeader(header);
  assert.ok(one.equals(encodeHeader({ ...header })));
  assert.equal(one.length, 512);
  assert.equal(one.subarray(0, 4).toString(), 'a/b/');
  assert.equal(one.subarray(257, 263).toString('latin1'), 'ustar\0');
});
