import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeSettings, parseCacheSize } from './settings.js';

describe('cache settings', () => {
  it('parses sizes with decimal and binary units', () => {
    const cases: [unknown, number][] = [
      [1234, 1234],
      ['20GB', 20e9],
      ['8GiB', 8 * 1024 ** 3],
      ['1.5g', 1.5 * 1024 ** 3],
      ['2G', 2 * 1024 ** 3],
      ['500 MB', 500e6],
      ['42', 42],
    ];
    for (const [input, bytes] of cases) assert.equal(parseCacheSize(input), bytes, String(input));
    for (const bad of ['lots', '-1GB', '', '5 parsecs', -3]) {
      assert.throws(() => parseCacheSize(bad), { code: 'CONFIG_INVALID' }, String(bad));
    }
  });

  it('defaults: policy none, decompressed off, 10 s stale locks; config over plugin options', () => {
    assert.deepEqual(normalizeSettings({}), {
      policy: 'none',
      maxSize: undefined,
      decompressed: false,
      lockStaleMs: 10_000,
      partialMaxAgeMs: 7 * 24 * 3600_000,
      durability: 'boot',
    });
    const s = normalizeSettings(
      { policy: 'lru', maxSize: '1GB' },
      { policy: 'after-use', decompressed: true },
    );
    assert.equal(s.policy, 'lru');
    assert.equal(s.maxSize, 1e9);
    assert.equal(s.decompressed, true);
    assert.throws(() => normalizeSettings({ policy: 'lru' }), { code: 'CONFIG_INVALID' });
    assert.throws(() => normalizeSettings({ policy: 'always' }), { code: 'CONFIG_INVALID' });
    assert.equal(normalizeSettings({ durability: 'fsync' }).durability, 'fsync');
    assert.throws(() => normalizeSettings({ durability: 'never' }), { code: 'CONFIG_INVALID' });
  });
});
