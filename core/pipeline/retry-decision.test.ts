import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Decision, decideAfterFailure, type FailureFacts } from './retry-decision.js';

const base: FailureFacts = {
  cache: 'miss',
  mismatch: false,
  decodeFailure: false,
  interrupted: false,
  resumedFrom: 0,
  cacheCommitted: false,
  retried: false,
  offline: false,
};

// One row per case: the facts that differ from `base`, and the decision expected.
// biome-ignore format: a table reads best one row per line
const cases: Array<[string, Partial<FailureFacts>, Decision]> = [
  ['mismatch on a hit: evict, retry', { cache: 'hit', mismatch: true }, { next: 'retry', evict: true, reason: 'corrupt-entry' }],
  ['mismatch on a hit, offline: evict, cannot download', { cache: 'hit', mismatch: true, offline: true }, { next: 'fail-offline', evict: true, reason: 'corrupt-entry' }],
  ['mismatch on a hit after the retry: evict, fail', { cache: 'hit', mismatch: true, retried: true }, { next: 'fail', evict: true }],
  ['decode failure on a hit, entry not checked yet: check it', { cache: 'hit', decodeFailure: true }, { next: 'check-entry', evict: false }],
  ['decode failure on a hit with a broken entry: evict, retry', { cache: 'hit', decodeFailure: true, entryIntact: false }, { next: 'retry', evict: true, reason: 'corrupt-entry' }],
  ['decode failure on a hit with an intact entry: the data is bad, fail', { cache: 'hit', decodeFailure: true, entryIntact: true }, { next: 'fail', evict: false }],
  ['interrupt on a hit: fail, keep the entry', { cache: 'hit', interrupted: true }, { next: 'fail', evict: false }],
  ['decode failure on a hit while interrupted: not suspect, fail', { cache: 'hit', decodeFailure: true, interrupted: true }, { next: 'fail', evict: false }],
  ['other failure on a hit (output): fail, keep the entry', { cache: 'hit' }, { next: 'fail', evict: false }],
  ['mismatch on a miss with a resumed partial: drop it, retry', { mismatch: true, resumedFrom: 4096 }, { next: 'retry', evict: false, partial: 'drop', reason: 'bad-partial' }],
  ['mismatch on a miss with a resumed partial, offline: drop it, cannot download', { mismatch: true, resumedFrom: 4096, offline: true }, { next: 'fail-offline', evict: false, partial: 'drop', reason: 'bad-partial' }],
  ['mismatch on a miss from byte 0: drop the partial, fail', { mismatch: true }, { next: 'fail', evict: false, partial: 'drop' }],
  ['decode failure on a miss with a resumed partial: drop it, retry', { decodeFailure: true, resumedFrom: 100 }, { next: 'retry', evict: false, partial: 'drop', reason: 'bad-partial' }],
  ['decode failure on a miss from byte 0: keep the partial, fail', { decodeFailure: true }, { next: 'fail', evict: false, partial: 'keep' }],
  ['interrupt on a miss: keep the partial for a resume', { interrupted: true, resumedFrom: 100 }, { next: 'fail', evict: false, partial: 'keep' }],
  ['decode failure on a miss while interrupted: keep the partial', { interrupted: true, decodeFailure: true, resumedFrom: 100 }, { next: 'fail', evict: false, partial: 'keep' }],
  ['transient failure on a miss: keep the partial', {}, { next: 'fail', evict: false, partial: 'keep' }],
  ['mismatch on a resumed miss after the retry: drop it, fail', { mismatch: true, resumedFrom: 100, retried: true }, { next: 'fail', evict: false, partial: 'drop' }],
  ['output-only failure after the cache commit: the entry stays', { cacheCommitted: true }, { next: 'fail', evict: false }],
  ['decode failure after the cache commit: the entry stays', { cacheCommitted: true, decodeFailure: true, resumedFrom: 100 }, { next: 'fail', evict: false }],
  ['no cache, mismatch: fail', { cache: 'none', mismatch: true }, { next: 'fail', evict: false }],
  ['no cache, decode failure: fail', { cache: 'none', decodeFailure: true }, { next: 'fail', evict: false }],
];

describe('decideAfterFailure', () => {
  for (const [name, facts, expected] of cases) {
    it(name, () => {
      assert.deepEqual(decideAfterFailure({ ...base, ...facts }), expected);
    });
  }
});
