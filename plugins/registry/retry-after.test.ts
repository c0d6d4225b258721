import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLogger, isOcipullError } from 'ocipull';
import { DEFAULT_TIMEOUTS, discard, HttpClient } from './http.js';
import { DEFAULT_LOW_SPEED } from './low-speed.js';
import { defaultRetryPolicy, type RetryPolicy } from './retry.js';
import { TlsPolicy } from './tls.js';

const log = createLogger('silent');

describe('Retry-After: honoured up to maxRetryAfterMs, beyond it the run stops at once', () => {
  let server: Server;
  let base: URL;
  /** Retry-After values to answer with (429), one per request, then 200. */
  let script: string[] = [];
  let requests = 0;

  before(async () => {
    server = createServer((_req, res) => {
      requests++;
      const retryAfter = script.shift();
      if (retryAfter !== undefined) {
        res.writeHead(429, { 'retry-after': retryAfter, 'content-type': 'application/json' });
        return void res.end('{"errors":[{"code":"TOOMANYREQUESTS"}]}');
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/`);
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function get(answers: string[], policy: Partial<RetryPolicy> = {}) {
    script = [...answers];
    requests = 0;
    const waits: number[] = [];
    const http = new HttpClient(
      new TlsPolicy({}),
      defaultRetryPolicy({ baseDelayMs: 1, ...policy }),
      DEFAULT_TIMEOUTS,
      DEFAULT_LOW_SPEED,
      async (ms) => {
        waits.push(ms);
      },
    );
    try {
      const response = await http.send({
        url: base,
        signal: new AbortController().signal,
        log,
        what: 'GET ping',
      });
      await discard(response);
      return { status: response.status, waits, requests };
    } finally {
      await http.close();
    }
  }

  it('waits for a Retry-After under the cap (60 s by default)', async () => {
    const { status, waits, requests } = await get(['30']);
    assert.equal(status, 200);
    assert.deepEqual(waits, [30_000]);
    assert.equal(requests, 2);
  });

  it('fails at once when the server asks for more than the cap, naming both', async () => {
    for (const asked of ['120', new Date(Date.now() + 3_600_000).toUTCString()]) {
      script = [];
      await assert.rejects(get([asked]), (error: unknown) => {
        assert.ok(isOcipullError(error, 'RETRY_AFTER_TOO_LONG'), String(error));
        assert.match(
          error.message,
          /the server asked to wait \d+ s \(Retry-After\), more than the cap of 60 s/,
        );
        if (asked === '120') assert.match(error.message, /wait 120 s/);
        assert.match(error.message, /HTTP 429/);
        assert.match(error.hint ?? '', /transports\.docker\.maxRetryAfterMs/);
        return true;
      });
      assert.equal(requests, 1, 'no retry was sent');
    }
  });

  it('waits longer when maxRetryAfterMs allows it', async () => {
    const { status, waits } = await get(['120'], { maxRetryAfterMs: 180_000 });
    assert.equal(status, 200);
    assert.deepEqual(waits, [120_000]);
  });
});
