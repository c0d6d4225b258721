import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CODES, EXIT, OcipullError, wrapPluginError } from 'ocipull';
import { repoRoot } from '../support/paths.js';

describe('error codes', () => {
  it('every code is documented in docs/errors.md with its exit status', async () => {
    const doc = await readFile(join(repoRoot, 'docs', 'errors.md'), 'utf8');
    const missing = Object.entries(CODES).filter(
      ([code, info]) => !new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${info.exit}\\s*\\|`).test(doc),
    );
    assert.deepEqual(
      missing.map(([code]) => code),
      [],
      'codes missing from docs/errors.md (rows like | `CODE` | exit | summary |)',
    );
  });

  it('exit statuses are the documented classes', () => {
    const allowed = new Set<number>(Object.values(EXIT));
    for (const [code, info] of Object.entries(CODES))
      assert.ok(allowed.has(info.exit), `${code} exit ${info.exit}`);
  });

  it('keeps the code of an OcipullError a plugin throws and adds the names', () => {
    const wrapped = wrapPluginError(
      new OcipullError('BLOB_NOT_FOUND', 'gone'),
      'ocipull-plugin-x',
      'fetch[x]',
    );
    assert.equal(wrapped.code, 'BLOB_NOT_FOUND');
    assert.equal(wrapped.plugin, 'ocipull-plugin-x');
    assert.equal(wrapped.hook, 'fetch[x]');
    assert.equal(wrapped.exitCode, EXIT.NOT_FOUND);
  });

  it('turns anything else into PLUGIN_FAILED naming plugin and hook', () => {
    const wrapped = wrapPluginError(new TypeError('boom'), 'ocipull-plugin-y', 'select[qemu]');
    assert.equal(wrapped.code, 'PLUGIN_FAILED');
    assert.match(wrapped.message, /ocipull-plugin-y.*select\[qemu\].*boom/);
    assert.ok(wrapped.cause instanceof TypeError);
  });
});
