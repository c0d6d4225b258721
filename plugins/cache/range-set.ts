/** Sorted, disjoint, non-adjacent [start, end) byte ranges: what a ranged partial holds. */
export type ByteRange = readonly [number, number];

/** `ranges` with [start, end) added, merged with its neighbours. */
export function addRange(ranges: readonly ByteRange[], start: number, end: number): ByteRange[] {
  if (end <= start) return [...ranges];
  const out: ByteRange[] = [];
  let s = start;
  let e = end;
  for (const [a, b] of ranges) {
    if (b < s || a > e) out.push([a, b]);
    else {
      s = Math.min(s, a);
      e = Math.max(e, b);
    }
  }
  out.push([s, e]);
  return out.sort((x, y) => x[0] - y[0]);
}

/** Ranges read from a record: well-formed pairs inside [0, limit), normalised; anything else dropped. */
export function cleanRanges(value: unknown, limit: number): ByteRange[] {
  if (!Array.isArray(value)) return [];
  let out: ByteRange[] = [];
  for (const pair of value) {
    if (!Array.isArray(pair) || pair.length !== 2) continue;
    const [a, b] = pair as unknown[];
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) continue;
    const s = Math.max(0, a as number);
    const e = Math.min(limit, b as number);
    if (e > s) out = addRange(out, s, e);
  }
  return out;
}
