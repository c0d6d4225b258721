import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planSegments } from './ranges-plan.js';

describe('planSegments', () => {
  it('cuts a fresh blob into chunks, folding a short remainder into the last one', () => {
    assert.deepEqual(planSegments(0, 24, 10, []), [
      { start: 0, end: 10, local: false },
      { start: 10, end: 24, local: false },
    ]);
    assert.deepEqual(
      planSegments(0, 30, 10, []).map((s) => [s.start, s.end]),
      [
        [0, 10],
        [10, 20],
        [20, 30],
      ],
    );
  });

  it('keeps complete ranges as local segments and fetches only the gaps past the prefix', () => {
    assert.deepEqual(
      planSegments(10, 60, 10, [
        [20, 30],
        [45, 60],
      ]),
      [
        { start: 10, end: 20, local: false },
        { start: 20, end: 30, local: true },
        { start: 30, end: 45, local: false },
        { start: 45, end: 60, local: true },
      ],
    );
  });

  it('clips complete ranges that overlap the prefix or run past the blob', () => {
    assert.deepEqual(planSegments(15, 40, 10, [[5, 25]]), [
      { start: 15, end: 25, local: true },
      { start: 25, end: 40, local: false },
    ]);
    assert.deepEqual(planSegments(0, 20, 10, [[0, 99]]), [{ start: 0, end: 20, local: true }]);
  });
});
