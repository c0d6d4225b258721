import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import path, { join } from 'node:path';
import { test } from 'node:test';
import { checkLayoutVersion, type ErrorCode, type OcipullError, parseSourceRef } from 'ocipull';
import { tempDir } from '../../test/support/paths.js';
import { formatLayoutReference, parseLayoutReference } from './reference.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

test('references: path, tag, digest, oci-dir:// and colons in paths', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  await fsp.mkdir(join(dir, 'layout'));
  await fsp.mkdir(join(dir, 'with:colon'));
  const cases: [string, { dir: string; tag?: string; digest?: string }][] = [
    [`oci-dir:${dir}/layout`, { dir: `${dir}/layout` }],
    [`oci-dir:${dir}/layout:5.5`, { dir: `${dir}/layout`, tag: '5.5' }],
    [`oci-dir://${dir}/layout:latest`, { dir: `${dir}/layout`, tag: 'latest' }],
    [`oci:${dir}/layout@${DIGEST}`, { dir: `${dir}/layout`, digest: DIGEST }],
    [`oci:${dir}/with:colon`, { dir: `${dir}/with:colon` }],
    [`oci:${dir}/with:colon:v1`, { dir: `${dir}/with:colon`, tag: 'v1' }],
    [`oci-dir:${dir}/missing:v1`, { dir: `${dir}/missing`, tag: 'v1' }],
    [`oci-dir:${dir}/missing:a/b`, { dir: `${dir}/missing:a/b` }],
  ];
  for (const [raw, expected] of cases) {
    const ref = await parseLayoutReference(parseSourceRef(raw));
    assert.deepEqual(
      { dir: ref.dir, tag: ref.tag, digest: ref.digest },
      { tag: undefined, digest: undefined, ...expected },
      raw,
    );
    const again = await parseLayoutReference(parseSourceRef(formatLayoutReference(ref)));
    assert.deepEqual(again, ref, `${raw} round-trips`);
  }
  const relative = await parseLayoutReference(parseSourceRef('oci-dir:some/dir:x'));
  assert.equal(relative.dir, join(process.cwd(), 'some/dir'));
});

test('bad references', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const cases: [string, ErrorCode][] = [
    [`oci-dir:${dir}:../x`, 'TAG_INVALID'],
    [`oci-dir:${dir}:a/b`, 'TAG_INVALID'],
    [`oci-dir:${dir}:`, 'TAG_INVALID'],
    [`oci-dir:${dir}:${'x'.repeat(129)}`, 'TAG_INVALID'],
    [`oci-dir:${dir}@sha256:abc`, 'DIGEST_INVALID'],
    [`oci-dir:${dir}@md5:${'a'.repeat(32)}`, 'DIGEST_INVALID'],
    ['oci-dir://', 'REFERENCE_INVALID'],
  ];
  for (const [raw, code] of cases) {
    await assert.rejects(
      parseLayoutReference(parseSourceRef(raw)),
      (e: OcipullError) => e.code === code,
      raw,
    );
  }
});

test('~ is the home directory', async () => {
  const posix = { path: path.posix, home: '/home/me', isDirectory: async () => false };
  const cases: [string, { dir: string; tag?: string }][] = [
    ['oci-dir:~/layouts/x:5.5', { dir: '/home/me/layouts/x', tag: '5.5' }],
    ['oci-dir:~', { dir: '/home/me' }],
    ['oci:~/x', { dir: '/home/me/x' }],
    ['oci-dir:~x', { dir: path.posix.resolve('~x') }],
  ];
  for (const [raw, expected] of cases) {
    const ref = await parseLayoutReference(parseSourceRef(raw), posix);
    assert.deepEqual({ dir: ref.dir, tag: ref.tag }, { tag: undefined, ...expected }, raw);
  }
  // Without a host: this machine's home directory.
  const real = await parseLayoutReference(parseSourceRef('oci-dir:~/x:v1'));
  assert.deepEqual({ dir: real.dir, tag: real.tag }, { dir: join(homedir(), 'x'), tag: 'v1' });
});

test('Windows paths: a drive letter is part of the path, the tag follows the last colon', async () => {
  const dirs = new Set(['C:\\images\\with:colon']);
  const win = {
    path: path.win32,
    home: 'C:\\Users\\me',
    isDirectory: async (p: string) => dirs.has(p),
  };
  const cases: [string, { dir: string; tag?: string; digest?: string }][] = [
    ['oci-dir:C:\\images\\layout:5.5', { dir: 'C:\\images\\layout', tag: '5.5' }],
    ['oci-dir:C:\\images\\layout', { dir: 'C:\\images\\layout' }],
    ['oci-dir:c:/images/layout:5.5', { dir: 'c:\\images\\layout', tag: '5.5' }],
    ['oci:D:\\layout', { dir: 'D:\\layout' }],
    ['oci-dir://C:\\images\\layout:latest', { dir: 'C:\\images\\layout', tag: 'latest' }],
    [`oci-dir:C:\\images\\layout@${DIGEST}`, { dir: 'C:\\images\\layout', digest: DIGEST }],
    ['oci-dir:~\\layouts\\x:5.5', { dir: 'C:\\Users\\me\\layouts\\x', tag: '5.5' }],
    ['oci-dir:C:\\images\\with:colon', { dir: 'C:\\images\\with:colon' }],
    ['oci-dir:C:\\images\\with:colon:v2', { dir: 'C:\\images\\with:colon', tag: 'v2' }],
    ['oci-dir:C:\\x:a\\b', { dir: 'C:\\x:a\\b' }],
  ];
  for (const [raw, expected] of cases) {
    const ref = await parseLayoutReference(parseSourceRef(raw), win);
    assert.deepEqual(
      { dir: ref.dir, tag: ref.tag, digest: ref.digest },
      { tag: undefined, digest: undefined, ...expected },
      raw,
    );
    const again = await parseLayoutReference(parseSourceRef(formatLayoutReference(ref)), win);
    assert.deepEqual(again, ref, `${raw} round-trips`);
  }
  await assert.rejects(
    parseLayoutReference(parseSourceRef('oci-dir:C:\\images\\layout:..'), win),
    (e: OcipullError) => e.code === 'TAG_INVALID',
  );
});

test('a missing layout directory says so, naming the path', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  await fsp.writeFile(join(dir, 'file'), 'x');
  await fsp.mkdir(join(dir, 'empty'));
  const cases: [string, RegExp][] = [
    [join(dir, 'nowhere'), /^layout directory \S+nowhere does not exist$/],
    [join(dir, 'file'), /^\S+file is not a directory, so not an OCI image layout$/],
    [join(dir, 'empty'), /^\S+empty is not an OCI image layout: it has no oci-layout file$/],
  ];
  for (const [path, message] of cases) {
    await assert.rejects(checkLayoutVersion(path), (e: OcipullError) => {
      assert.equal(e.code, 'LAYOUT_MISSING');
      assert.match(e.message, message);
      return true;
    });
  }
});
