/**
 * curl's low-speed rule for response bodies: when the transfer rate stays below `limit` bytes/s
 * for `timeMs`, the transfer fails (TOO_SLOW, not retried: a trickling server would otherwise keep
 * a run alive indefinitely, the body timeout only bounding the pause between two chunks).
 *
 * Only time spent waiting on the server counts: while the reader is busy (back-pressure) the
 * clock is stopped. The rate is judged over consecutive windows of `timeMs` of waiting.
 */
import { Readable } from 'node:stream';
import { OcipullError } from 'ocipull';

export interface LowSpeedRule {
  /** Bytes per second; 0 turns the rule off. */
  limit: number;
  /** How long the rate may stay below the limit, in ms. */
  timeMs: number;
}

export const DEFAULT_LOW_SPEED: LowSpeedRule = { limit: 1024, timeMs: 60_000 };

/** The bookkeeping, clock injected: `wait` when reading starts to wait, `received` when bytes come. */
export class LowSpeedMonitor {
  private waitedMs = 0;
  private bytes = 0;
  private waitingSince: number | undefined;

  constructor(
    readonly rule: LowSpeedRule,
    private readonly now: () => number = Date.now,
    private readonly what = 'transfer',
  ) {}

  wait(): void {
    this.waitingSince ??= this.now();
  }

  /** Bytes arrived: the wait stops. Returns the failure, if the rate broke the rule. */
  received(bytes: number): OcipullError | undefined {
    this.bytes += bytes;
    return this.check(true);
  }

  /** Close the window if `timeMs` of waiting has passed: fail when too few bytes came in it. */
  private check(stopWaiting: boolean): OcipullError | undefined {
    if (this.rule.limit <= 0) return undefined;
    const t = this.now();
    if (this.waitingSince !== undefined) {
      this.waitedMs += t - this.waitingSince;
      this.waitingSince = stopWaiting ? undefined : t;
    }
    if (this.waitedMs < this.rule.timeMs) return undefined;
    const rate = (this.bytes * 1000) / this.waitedMs;
    if (rate < this.rule.limit) return tooSlow(this.what, this.rule, rate);
    this.waitedMs = 0;
    this.bytes = 0;
    return undefined;
  }
}

function tooSlow(what: string, rule: LowSpeedRule, rate: number): OcipullError {
  const seconds = rule.timeMs / 1000;
  return new OcipullError(
    'TOO_SLOW',
    `${what}: transfer rate ${Math.floor(rate)} bytes/s stayed below lowSpeedLimit ${rule.limit} bytes/s for lowSpeedTime ${seconds} s`,
    {
      hint: 'lower transports.docker.lowSpeedLimit or raise transports.docker.lowSpeedTime (lowSpeedLimit 0 turns the rule off), or try again later',
    },
  );
}

type Body = Readable & { dump?: (opts?: { limit: number }) => Promise<void> };

/**
 * Wrap a body with the rule; `what` prefixes the message. The wrapper keeps `dump`. The rule is
 * judged when bytes arrive: a server that sends nothing at all is left to the body timeout
 * (TIMEOUT, a reconnect), as a silent connection is often a dead one.
 */
export function withLowSpeedRule(body: Body, rule: LowSpeedRule, what: string, now?: () => number): Body {
  if (rule.limit <= 0 || rule.timeMs <= 0) return body;
  const monitor = new LowSpeedMonitor(rule, now, what);
  let dumping = false;
  async function* chunks(): AsyncGenerator<Buffer> {
    const iterator = body[Symbol.asyncIterator]();
    for (;;) {
      monitor.wait();
      const result = (await iterator.next()) as IteratorResult<Buffer>;
      if (result.done) return;
      const failure = monitor.received(result.value.length);
      if (failure) throw failure;
      yield result.value;
    }
  }
  // No read-ahead: time counts only while the reader asks for bytes, and nothing buffered is lost on an error.
  const wrapped: Body = Readable.from(chunks(), { objectMode: false, highWaterMark: 0 });
  wrapped.once('close', () => {
    if (!dumping) body.destroy();
  });
  if (body.dump) {
    const dump = body.dump.bind(body);
    wrapped.dump = async (opts) => {
      dumping = true;
      wrapped.destroy();
      await dump(opts);
    };
  }
  return wrapped;
}
