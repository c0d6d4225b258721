import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionsWanted, type DemandFacts } from './ranges-demand.js';

const MiB = 1 << 20;
// One connection on loopback, 200 ms in: 64 MiB fetched, the consumer never waited.
const base: DemandFacts = {
  current: 1,
  max: 4,
  firstByteMs: 2,
  elapsedMs: 200,
  starvedMs: 0,
  fetched: 64 * MiB,
  remaining: 200 * MiB,
  chunk: 8 * MiB,
};

// One row per case: the facts that differ from `base`, and the connections wanted.
// biome-ignore format: a table reads best one row per line
const cases: Array<[string, Partial<DemandFacts>, number]> = [
  ['loopback: the consumer is the bottleneck, stay at one', {}, 1],
  ['consumer waited a little (10 %): stay', { starvedMs: 20 }, 1],
  ['consumer starved a quarter of the time: double', { starvedMs: 50 }, 2],
  ['starved at two connections: double again', { current: 2, starvedMs: 150 }, 4],
  ['starved at three of four: up to the maximum only', { current: 3, max: 4, starvedMs: 150 }, 4],
  ['already at the maximum: stay', { current: 4, starvedMs: 200 }, 4],
  ['a maximum below the current (settings changed): the maximum', { current: 4, max: 2 }, 2],
  ['slow first byte on a large blob: all at once', { firstByteMs: 40, elapsedMs: 0, fetched: 0 }, 4],
  ['slow first byte but under two chunks left: starvation decides', { firstByteMs: 40, remaining: 12 * MiB }, 1],
  ['nothing left to start: stay even when starved', { starvedMs: 200, remaining: 4 * MiB }, 1],
  ['too early to tell (50 ms, 1 MiB): stay', { elapsedMs: 50, fetched: 1 * MiB, starvedMs: 50 }, 1],
  ['early but a second chunk already fetched while starved: double', { elapsedMs: 50, fetched: 16 * MiB, starvedMs: 40 }, 2],
  ['first chunk not complete yet: no evidence, stay', { elapsedMs: 0, starvedMs: 0, fetched: 4 * MiB }, 1],
  ['far source at 20 MB/s, consumer waiting 80 %: double', { elapsedMs: 400, fetched: 8 * MiB, starvedMs: 320 }, 2],
  ['connections 1: never more', { max: 1, firstByteMs: 100, starvedMs: 200 }, 1],
];

describe('connectionsWanted: more range connections only when they help', () => {
  for (const [name, facts, expected] of cases) {
    it(name, () => {
      assert.equal(connectionsWanted({ ...base, ...facts }), expected);
    });
  }
});
