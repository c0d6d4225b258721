/**
 * What to do after a part's transfer failed: retry from the source, evict the cache entry, keep or
 * drop the partial download, or fail. Pure: the transfer gathers the facts, asks, and carries the
 * decision out (core/pipeline/transfer.ts).
 */

export interface FailureFacts {
  /** What the cache gave: a complete entry (`hit`), a writer (`miss`), or no cache at all. */
  cache: 'hit' | 'miss' | 'none';
  /** The core's verifier found a digest or size mismatch (the failure reported). */
  mismatch: boolean;
  /** An unpacker or decoder failed before the digest could be checked (bad reused bytes may be why). */
  decodeFailure: boolean;
  /** The run's own signal aborted (Ctrl-C, a caller's abort): nothing reused is suspect. */
  interrupted: boolean;
  /** Bytes replayed from a partial of an earlier run (0: none). */
  resumedFrom: number;
  /** The verified blob was committed to the cache before the failure (only the output failed). */
  cacheCommitted: boolean;
  /** A hit's entry rehashed after a decode failure: undefined until checked (see `check-entry`). */
  entryIntact?: boolean;
  /** This part was already retried once from the source. */
  retried: boolean;
  /** The source is the cache itself (--offline or unreachable): nothing can be downloaded again. */
  offline: boolean;
}

export type RetryReason = 'corrupt-entry' | 'bad-partial';

export interface Decision {
  /**
   * `check-entry`: rehash the cached blob and decide again with `entryIntact` set (no other step
   * is taken yet); `retry`: transfer the part again from the source; `fail`: report the failure;
   * `fail-offline`: report that the bad copy cannot be downloaded again (CACHE_CORRUPT).
   */
  next: 'check-entry' | 'retry' | 'fail' | 'fail-offline';
  /** Remove the cache entry (it failed verification). */
  evict: boolean;
  /** For a miss not committed: keep the partial for a later resume, or drop it. */
  partial?: 'keep' | 'drop';
  /** Why a retry (or `fail-offline`) was decided. */
  reason?: RetryReason;
}

function again(reason: RetryReason, facts: FailureFacts, evict: boolean, partial?: 'drop'): Decision {
  if (facts.retried) return { next: 'fail', evict, ...(partial ? { partial } : {}) };
  return { next: facts.offline ? 'fail-offline' : 'retry', evict, reason, ...(partial ? { partial } : {}) };
}

export function decideAfterFailure(facts: FailureFacts): Decision {
  const suspect = !facts.mismatch && !facts.interrupted && facts.decodeFailure;
  if (facts.cache === 'hit') {
    if (facts.mismatch) return again('corrupt-entry', facts, true);
    if (suspect) {
      if (facts.entryIntact === undefined) return { next: 'check-entry', evict: false };
      if (!facts.entryIntact) return again('corrupt-entry', facts, true);
    }
    return { next: 'fail', evict: false };
  }
  if (facts.cache === 'miss' && !facts.cacheCommitted) {
    // A partial that did not verify, or that a decoder tripped on, is not resumed again.
    const drop = facts.mismatch || (suspect && facts.resumedFrom > 0);
    if (drop && facts.resumedFrom > 0) return again('bad-partial', facts, false, 'drop');
    return { next: 'fail', evict: false, partial: drop ? 'drop' : 'keep' };
  }
  // No cache, or a verified blob committed to the cache: it stays, only the output failed.
  return { next: 'fail', evict: false };
}
