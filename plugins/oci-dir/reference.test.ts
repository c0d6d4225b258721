import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ErrorCode, type OcipullError, parseSourceRef } from 'ocipull';
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
