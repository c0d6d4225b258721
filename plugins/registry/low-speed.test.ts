import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { isOcipullError } from 'ocipull';
import { LowSpeedMonitor, withLowSpeedRule } from './low-speed.js';

/** A clock the test moves by hand. */
function clock() {
  let t = 0;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describe('low-speed rule (curl --speed-limit / --speed-time)', () => {
  it('fails once the rate stayed below the limit for the whole window of waiting', () => {
    const c = clock();
    const m = new LowSpeedMonitor({ limit: 1024, timeMs: 60_000 }, c.now, 'blob x');
    for (let s = 1; s < 60; s++) {
      m.wait();
      c.advance(1000);
      assert.equal(m.received(1), undefined, `second ${s}`);
    }
    m.wait();
    c.advance(1000);
    const failure = m.received(1);
    assert.ok(isOcipullError(failure, 'TOO_SLOW'));
    assert.match(
      failure.message,
      /^blob x: transfer rate 1 bytes\/s stayed below lowSpeedLimit 1024 bytes\/s for lowSpeedTime 60 s/,
    );
    assert.match(failure.hint ?? '', /transports\.docker\.lowSpeedLimit/);
    assert.match(failure.hint ?? '', /transports\.docker\.lowSpeedTime/);
  });

  it('passes a rate at the limit, window after window', () => {
    const c = clock();
    const m = new LowSpeedMonitor({ limit: 1000, timeMs: 10_000 }, c.now);
    for (let s = 0; s < 100; s++) {
      m.wait();
      c.advance(1000);
      assert.equal(m.received(1000), undefined, `second ${s}`);
    }
  });

  it('judges each window alone: a fast start does not excuse a slow stretch later', () => {
    const c = clock();
    const m = new LowSpeedMonitor({ limit: 1000, timeMs: 10_000 }, c.now);
    m.wait();
    c.advance(10_000);
    assert.equal(m.received(1_000_000), undefined);
    let failure: unknown;
    for (let s = 0; s < 10 && !failure; s++) {
      m.wait();
      c.advance(1000);
      failure = m.received(10);
    }
    assert.ok(isOcipullError(failure, 'TOO_SLOW'));
  });

  it('does not count time the reader spends elsewhere (back-pressure)', () => {
    const c = clock();
    const m = new LowSpeedMonitor({ limit: 1000, timeMs: 10_000 }, c.now);
    for (let s = 0; s < 50; s++) {
      m.wait();
      c.advance(100); // the server answers within 100 ms
      assert.equal(m.received(200), undefined);
      c.advance(10_000); // the reader is busy writing to disk: not the server's fault
    }
  });

  it('is off with lowSpeedLimit 0', () => {
    const c = clock();
    const m = new LowSpeedMonitor({ limit: 0, timeMs: 1000 }, c.now);
    for (let s = 0; s < 10; s++) {
      m.wait();
      c.advance(10_000);
      assert.equal(m.received(1), undefined);
    }
    const body = Readable.from([Buffer.from('x')]);
    assert.equal(withLowSpeedRule(body, { limit: 0, timeMs: 1000 }, 'x'), body);
  });

  it('wraps a body: bytes pass through, and a slow one errors with TOO_SLOW', async () => {
    const c = clock();
    const fast = Readable.from([Buffer.from('hello '), Buffer.from('world')]);
    const chunks: Buffer[] = [];
    for await (const chunk of withLowSpeedRule(fast, { limit: 1, timeMs: 1000 }, 'x', c.now))
      chunks.push(chunk);
    assert.equal(Buffer.concat(chunks).toString(), 'hello world');

    // One byte per 500 ms of the test's clock, made only when asked for.
    const slow = new Readable({
      highWaterMark: 0,
      read() {
        c.advance(500);
        this.push(Buffer.from('.'));
      },
    });
    let got = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of withLowSpeedRule(slow, { limit: 100, timeMs: 1000 }, 'blob y', c.now))
          got += chunk.length;
      })(),
      (error: unknown) => isOcipullError(error, 'TOO_SLOW') && error.message.startsWith('blob y: '),
    );
    // The stream may read one byte ahead; either way the first 1 s window of waiting closes it.
    assert.ok(got <= 2, `${got} bytes passed before the rule stopped a 2 bytes/s body`);
    assert.ok(slow.destroyed, 'the source body is destroyed with the wrapper');
  });
});
