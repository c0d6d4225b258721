/**
 * Retry policy for registry requests: bounded exponential backoff with full jitter on connection
 * errors, 408, 429 and 5xx, honouring `Retry-After` up to a cap; never on 401/403/404 or other 4xx.
 */

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** First backoff step in ms (doubles each retry). */
  baseDelayMs: number;
  /** Longest single wait, Retry-After included. */
  maxDelayMs: number;
  /** Longest Retry-After honoured; a server asking for more fails the run at once (RETRY_AFTER_TOO_LONG). */
  maxRetryAfterMs: number;
}

export function defaultRetryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  const envDelay = Number(process.env.OCIPULL_RETRY_DELAY_MS);
  return {
    retries: 4,
    baseDelayMs: Number.isFinite(envDelay) && envDelay >= 0 ? envDelay : 250,
    maxDelayMs: 60_000,
    maxRetryAfterMs: 60_000,
    ...overrides,
  };
}

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599 && status !== 501);
}

/** `Retry-After`: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** The wait before retry number `attempt` (1-based). */
export function backoffDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  const exp = Math.min(policy.baseDelayMs * 2 ** (attempt - 1), policy.maxDelayMs);
  const jittered = exp / 2 + Math.random() * (exp / 2);
  if (retryAfterMs !== undefined) {
    return Math.min(Math.max(retryAfterMs, jittered), Math.max(policy.maxDelayMs, policy.maxRetryAfterMs));
  }
  return jittered;
}
