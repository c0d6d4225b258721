/**
 * How many connections a ranged download runs: it starts with one and adds more only when they
 * help, so a near source (loopback, a LAN mirror) that one connection already serves faster than
 * the decoder takes pays nothing for `connections` > 1, and a far one (a CDN with tens of
 * milliseconds to the first byte and a per-connection rate below the link's) gets them all.
 */
export interface DemandFacts {
  /** Connections allowed now, and the most the settings allow. */
  current: number;
  max: number;
  /** Milliseconds from the first request to its answer's headers. */
  firstByteMs: number;
  /** Milliseconds since the first chunk was complete (0 before). */
  elapsedMs: number;
  /** Of `elapsedMs`, how long the consumer (digest, cache, decoder) waited with nothing to take. */
  starvedMs: number;
  /** Bytes fetched so far (the first chunk included). */
  fetched: number;
  /** Bytes of chunks not started yet. */
  remaining: number;
  chunk: number;
}

/** A first answer slower than this says every request pays a far source's round trips. */
export const SLOW_FIRST_BYTE_MS = 30;
/** The consumer waiting this share of the time says the network is the bottleneck. */
export const STARVED_SHARE = 0.25;
/** Below this much evidence (time and bytes) nothing is decided from starvation. */
export const MIN_EVIDENCE_MS = 100;

/** The number of connections to allow from now on (never fewer than `current`, never more than `max`). */
export function connectionsWanted(f: DemandFacts): number {
  if (f.current >= f.max) return f.max;
  // Nothing left to split: another connection would have no chunk to fetch.
  if (f.remaining < f.chunk) return f.current;
  if (f.firstByteMs >= SLOW_FIRST_BYTE_MS && f.remaining >= 2 * f.chunk) return f.max;
  if (f.elapsedMs <= 0 || (f.elapsedMs < MIN_EVIDENCE_MS && f.fetched < 2 * f.chunk)) return f.current;
  if (f.elapsedMs > 0 && f.starvedMs / f.elapsedMs >= STARVED_SHARE) return Math.min(f.max, f.current * 2);
  return f.current;
}
