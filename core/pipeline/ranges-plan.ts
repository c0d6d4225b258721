/** The segments a ranged download walks through, in blob order. */
export interface Segment {
  start: number;
  /** Exclusive. */
  end: number;
  /** Already in the partial (an earlier run completed it): read back, not fetched. */
  local: boolean;
}

/**
 * [position, size) cut into segments: the partial's complete ranges as they are, every gap
 * between them in chunks of `chunk` bytes (a gap's last chunk takes a remainder of half a chunk or less,
 * so no request is tiny).
 */
export function planSegments(
  position: number,
  size: number,
  chunk: number,
  complete: ReadonlyArray<readonly [number, number]>,
): Segment[] {
  const out: Segment[] = [];
  const gap = (from: number, to: number) => {
    for (let at = from; at < to; ) {
      let end = Math.min(at + chunk, to);
      if (to - end <= chunk / 2) end = to;
      out.push({ start: at, end, local: false });
      at = end;
    }
  };
  let at = position;
  for (const [a, b] of [...complete].sort((x, y) => x[0] - y[0])) {
    const start = Math.max(a, at);
    const end = Math.min(b, size);
    if (end <= start) continue;
    gap(at, start);
    out.push({ start, end, local: true });
    at = end;
  }
  gap(at, size);
  return out;
}
