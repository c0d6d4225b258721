/**
 * The HTTP layer under the registry client, on undici:
 * - one dispatcher per host (TLS settings from TlsPolicy; HTTP(S)_PROXY / NO_PROXY honoured,
 *   the proxy picked by proxy.ts so that errors name it);
 * - retries with backoff and jitter on connection errors, 408, 429 and 5xx (Retry-After
 *   honoured up to maxRetryAfterMs, beyond it the run fails at once), each logged at debug
 *   level; other statuses go back to the caller;
 * - bodies under curl's low-speed rule (low-speed.ts);
 * - redirects followed by hand, with `Authorization` sent only to the origin that asked for it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { type Logger, OcipullError, urlForMessages } from 'ocipull';
import type { Dispatcher } from 'undici';
import { DEFAULT_LOW_SPEED, type LowSpeedRule, withLowSpeedRule } from './low-speed.js';
import { isRetryableError, toNetworkError } from './net-errors.js';
import { proxyFor } from './proxy.js';
import { isLoopback } from './reference.js';
import { backoffDelay, isRetryableStatus, parseRetryAfter, type RetryPolicy } from './retry.js';
import type { TlsPolicy } from './tls.js';

const MAX_REDIRECTS = 10;

export interface Timeouts {
  connectMs: number;
  /** Waiting for response headers. */
  headersMs: number;
  /** Longest pause between two body chunks. */
  bodyMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 30_000, headersMs: 60_000, bodyMs: 60_000 };

export interface HttpRequest {
  url: URL;
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  /** A string or bytes (kept in memory, so a retry can send them again). */
  body?: string | Uint8Array;
  /** Extra headers (Authorization) for a URL; called for every hop, so redirects to another origin get none. */
  authorize?: (url: URL) => Record<string, string> | undefined;
  signal: AbortSignal;
  log: Logger;
  /** What is being done, for messages: `GET manifest quay.io/x:5.5`. */
  what: string;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Readable & { dump?: (opts?: { limit: number }) => Promise<void> };
  /** The URL that answered (after redirects). */
  url: URL;
}

export function header(response: { headers: IncomingHttpHeaders }, name: string): string | undefined {
  const value = response.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Drop a body we will not read, so the connection can be reused. */
export async function discard(response: HttpResponse): Promise<void> {
  try {
    if (response.body.dump) await response.body.dump({ limit: 64 * 1024 });
    else response.body.destroy();
  } catch {
    // the connection is gone anyway
  }
}

/** A URL for messages: no user info, no query (presigned storage URLs carry signatures there). */
export function displayUrl(url: URL): string {
  return urlForMessages(url);
}

/** undici, loaded on the first registry request: pulls from layouts never pay its import (~0.1 s). */
let undiciModule: Promise<typeof import('undici')> | undefined;
const undici = () => {
  undiciModule ??= import('undici');
  return undiciModule;
};

export class HttpClient {
  private readonly dispatchers = new Map<string, Promise<Dispatcher>>();
  /** The proxy each dispatcher goes through (undefined: direct), for messages. */
  private readonly proxies = new Map<string, URL | undefined>();

  constructor(
    readonly tls: TlsPolicy,
    readonly retry: RetryPolicy,
    readonly timeouts: Timeouts = DEFAULT_TIMEOUTS,
    readonly lowSpeed: LowSpeedRule = DEFAULT_LOW_SPEED,
    /** The wait between retries (tests record it instead of waiting). */
    private readonly sleep: (ms: number, signal: AbortSignal) => Promise<unknown> = (ms, signal) =>
      delay(ms, undefined, { signal }),
  ) {}

  private dispatcher(url: URL): Promise<Dispatcher> {
    const key = `${url.protocol}//${url.host}`;
    let pending = this.dispatchers.get(key);
    if (!pending) {
      const proxy = proxyFor(url);
      this.proxies.set(key, proxy);
      pending = (async () => {
        const tls = url.protocol === 'https:' ? await this.tls.settings(url.host) : undefined;
        const { Agent, ProxyAgent } = await undici();
        const options = {
          connect: { timeout: this.timeouts.connectMs, ...(tls ?? {}) },
          ...(tls ? { requestTls: tls } : {}),
          headersTimeout: this.timeouts.headersMs,
          bodyTimeout: this.timeouts.bodyMs,
        };
        return proxy ? new ProxyAgent({ ...options, uri: proxy.href }) : new Agent(options);
      })();
      this.dispatchers.set(key, pending);
    }
    return pending;
  }

  /** One request: redirects followed, transient failures retried. Statuses are the caller's to judge. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    for (let attempt = 1; ; attempt++) {
      let response: HttpResponse;
      try {
        response = await this.follow(req);
      } catch (mapped) {
        if (req.signal.aborted) throw mapped;
        if (!isRetryableError(mapped) || attempt > this.retry.retries) throw mapped;
        const wait = backoffDelay(this.retry, attempt);
        req.log.debug(
          `${req.what}: ${(mapped as Error).message}; retry ${attempt}/${this.retry.retries} in ${Math.round(wait)} ms`,
        );
        await this.sleep(wait, req.signal);
        continue;
      }
      if (!isRetryableStatus(response.status) || attempt > this.retry.retries) {
        return { ...response, body: withLowSpeedRule(response.body, this.lowSpeed, req.what) };
      }
      const retryAfter = parseRetryAfter(header(response, 'retry-after'));
      await discard(response);
      if (retryAfter !== undefined && retryAfter > this.retry.maxRetryAfterMs) {
        const asked = Math.ceil(retryAfter / 1000);
        const cap = this.retry.maxRetryAfterMs / 1000;
        throw new OcipullError(
          'RETRY_AFTER_TOO_LONG',
          `${req.what}: HTTP ${response.status} from ${displayUrl(response.url)}; the server asked to wait ${asked} s (Retry-After), more than the cap of ${cap} s`,
          {
            hint: 'try again later, or raise transports.docker.maxRetryAfterMs to wait that long',
            data: { status: response.status, retryAfterMs: retryAfter },
          },
        );
      }
      const wait = backoffDelay(this.retry, attempt, retryAfter);
      req.log.debug(
        `${req.what}: HTTP ${response.status} from ${displayUrl(response.url)}${retryAfter !== undefined ? ` (Retry-After ${Math.round(retryAfter / 1000)} s)` : ''}; retry ${attempt}/${this.retry.retries} in ${Math.round(wait)} ms`,
      );
      await this.sleep(wait, req.signal);
    }
  }

  private async follow(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    let method = req.method ?? 'GET';
    let body = req.body;
    for (let hop = 0; ; hop++) {
      const headers = { 'user-agent': 'ocipull', ...req.headers, ...(req.authorize?.(url) ?? {}) };
      const { request } = await undici();
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          method,
          headers,
          body,
          signal: req.signal,
          dispatcher: await this.dispatcher(url),
        });
      } catch (error) {
        // Only the run's own signal is an interruption: undici names other failures AbortError too.
        if (req.signal.aborted) throw error;
        const proxy = this.proxies.get(`${url.protocol}//${url.host}`);
        throw toNetworkError(error, `${req.what} (${displayUrl(url)})`, { url, proxy });
      }
      const response: HttpResponse = { status: res.statusCode, headers: res.headers, body: res.body, url };
      const location = header(response, 'location');
      if (![301, 302, 303, 307, 308].includes(res.statusCode) || !location) return response;
      await discard(response);
      if (hop >= MAX_REDIRECTS) {
        throw new OcipullError(
          'UNEXPECTED_RESPONSE',
          `${req.what}: more than ${MAX_REDIRECTS} redirects (last to ${location})`,
        );
      }
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new OcipullError(
          'UNEXPECTED_RESPONSE',
          `${req.what}: redirected to unsupported URL scheme ${next.protocol}`,
        );
      }
      if (
        url.protocol === 'https:' &&
        next.protocol === 'http:' &&
        !isLoopback(next.host) &&
        !this.tls.policy(next.host).allowHttp
      ) {
        throw new OcipullError(
          'INSECURE_REFUSED',
          `${req.what}: ${displayUrl(url)} redirected to plain HTTP ${displayUrl(next)}`,
          {
            hint: `list ${next.host} in insecureRegistries if that is expected`,
          },
        );
      }
      req.log.debug(
        `${req.what}: ${res.statusCode} redirect to ${displayUrl(next)}${next.origin !== url.origin ? ' (other host: no Authorization)' : ''}`,
      );
      if (
        res.statusCode === 303 ||
        ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')
      ) {
        method = 'GET';
        body = undefined;
      }
      url = next;
    }
  }

  async close(): Promise<void> {
    const all = [...this.dispatchers.values()];
    this.dispatchers.clear();
    await Promise.all(all.map(async (d) => (await d).close().catch(() => {})));
  }
}
