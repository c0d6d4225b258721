import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, Orchestrator } from 'ocipull';
import { attachProgress, formatBytes } from '../../core/cli/progress.js';

function sink(isTTY: boolean) {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, callback) {
      text += chunk.toString();
      callback();
    },
  }) as Writable & {
    isTTY?: boolean;
    columns?: number;
    cursorTo?: unknown;
    clearLine?: unknown;
    moveCursor?: unknown;
  };
  if (isTTY) {
    stream.isTTY = true;
    stream.columns = 120;
    stream.cursorTo = (_x: number, _y?: number, cb?: () => void) => cb?.() ?? true;
    stream.clearLine = (_d: number, cb?: () => void) => cb?.() ?? true;
    stream.moveCursor = (_x: number, _y: number, cb?: () => void) => cb?.() ?? true;
  }
  return { stream, text: () => text };
}

/** A pull's progress events; `between` runs before each one after the first (to move a mocked clock). */
function emitPull(orchestrator: Orchestrator, between: () => void = () => {}) {
  const p = orchestrator.hooks.progress;
  const events: Parameters<typeof p.call>[0][] = [
    { phase: 'resolve', message: 'oci-dir:/x:5.5' },
    { phase: 'select', message: 'qemu linux/x86_64' },
    { phase: 'download', bytes: 1 << 20, total: 4 << 20 },
    { phase: 'decompress', bytes: 3 << 20 },
    { phase: 'download', bytes: 4 << 20, total: 4 << 20 },
    { phase: 'decompress', bytes: 12 << 20 },
    { phase: 'write', bytes: 12 << 20 },
    { phase: 'done', bytes: 12 << 20 },
  ];
  for (const [i, event] of events.entries()) {
    if (i > 0) between();
    p.call(event);
  }
}

const quiet = () => new Orchestrator({ log: createLogger('silent') });

describe('progress display', () => {
  it('json: one JSON object per event with phase, bytes, total and rate', (t) => {
    const orchestrator = quiet();
    const out = sink(false);
    // A mocked clock, one second between events: the rates are known exactly.
    t.mock.timers.enable({ apis: ['Date'], now: 0 });
    const detach = attachProgress(orchestrator, 'json', out.stream);
    emitPull(orchestrator, () => t.mock.timers.tick(1000));
    detach();
    const lines = out
      .text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(lines.length, 8);
    assert.deepEqual(
      lines.map((l) => l.phase),
      ['resolve', 'select', 'download', 'decompress', 'download', 'decompress', 'write', 'done'],
    );
    assert.deepEqual(
      { phase: lines[4].phase, bytes: lines[4].bytes, total: lines[4].total },
      { phase: 'download', bytes: 4 << 20, total: 4 << 20 },
    );
    assert.equal(lines[5].bytes, 12 << 20, 'decompression counts output bytes');
    // A phase's first event has no rate; later ones: bytes since that first event, per second.
    assert.deepEqual(
      lines.map((l) => l.rate ?? null),
      [null, null, null, null, ((4 << 20) - (1 << 20)) / 2, ((12 << 20) - (3 << 20)) / 2, null, null],
    );
  });

  it('plain (and auto off a terminal): phase lines, byte counts at most every few seconds', () => {
    const orchestrator = quiet();
    const out = sink(false);
    attachProgress(orchestrator, 'auto', out.stream);
    emitPull(orchestrator);
    const text = out.text();
    assert.match(text, /^ocipull: resolve oci-dir:\/x:5\.5$/m);
    assert.match(text, /^ocipull: download 1\.00 MiB \/ 4\.00 MiB \(25%\)$/m);
    assert.equal(text.match(/download/g)?.length, 2, 'the first download event and the one at the total');
    assert.match(text, /^ocipull: download 4\.00 MiB \/ 4\.00 MiB \(100%\)/m);
    assert.equal(
      text.match(/decompress/g)?.length,
      1,
      'the second decompress event came too soon for a line',
    );
    assert.match(text, /^ocipull: done 12\.0 MiB$/m);
    assert.doesNotMatch(text, /\x1b\[/, 'no terminal escapes');
  });

  it('none prints nothing', () => {
    const orchestrator = quiet();
    const out = sink(true);
    attachProgress(orchestrator, 'none', out.stream);
    emitPull(orchestrator);
    assert.equal(out.text(), '');
  });

  it('auto on a terminal draws bars for download and decompression', () => {
    const orchestrator = quiet();
    const out = sink(true);
    const detach = attachProgress(orchestrator, 'auto', out.stream);
    emitPull(orchestrator);
    detach();
    const text = out.text();
    assert.match(text, /download +\[[^\]]*\] 100% 4\.00 MiB \/ 4\.00 MiB/);
    assert.match(text, /decompress 12\.0 MiB written/);
  });

  it('bars: done ends them at their last value with a newline; nothing after stop', () => {
    const orchestrator = quiet();
    const out = sink(true);
    const detach = attachProgress(orchestrator, 'auto', out.stream);
    const p = orchestrator.hooks.progress;
    p.call({ phase: 'download', bytes: 1 << 20, total: 4 << 20 });
    p.call({ phase: 'download', bytes: 4 << 20, total: 4 << 20 });
    p.call({ phase: 'decompress', bytes: 3 << 20 });
    p.call({ phase: 'write', bytes: 12 << 20 });
    p.call({ phase: 'done', bytes: 12 << 20 });
    const ended = out.text();
    assert.match(ended, /\n$/, 'a newline after the last bar');
    const last = ended.slice(ended.lastIndexOf('download'));
    assert.match(last, /^download +\[[^\]]*\] 100% 4\.00 MiB \/ 4\.00 MiB /);
    assert.match(last, /decompress 12\.0 MiB written/, 'the bytes written are the last count');
    detach();
    p.call({ phase: 'download', bytes: 1, total: 4 });
    assert.equal(out.text(), ended, 'nothing drawn after the end');
  });

  it('json: percent, and eta once a rate is known (0 at the total)', () => {
    const orchestrator = quiet();
    const out = sink(false);
    attachProgress(orchestrator, 'json', out.stream);
    const p = orchestrator.hooks.progress;
    p.call({ phase: 'download', bytes: 0, total: 1000 });
    p.call({ phase: 'download', bytes: 999, total: 1000 });
    p.call({ phase: 'download', bytes: 1000, total: 1000 });
    const lines = out
      .text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      lines.map((l) => l.percent),
      [0, 99, 100],
    );
    assert.equal(lines[2].eta, 0);
  });

  it('plain: the end of a download is printed at once', () => {
    const orchestrator = quiet();
    const out = sink(false);
    attachProgress(orchestrator, 'plain', out.stream);
    const p = orchestrator.hooks.progress;
    p.call({ phase: 'download', bytes: 1 << 20, total: 4 << 20 });
    p.call({ phase: 'download', bytes: 2 << 20, total: 4 << 20 });
    p.call({ phase: 'download', bytes: 4 << 20, total: 4 << 20 });
    assert.deepEqual(out.text().match(/\(\d+%\)/g), ['(25%)', '(100%)']);
  });

  it('formats sizes', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.50 KiB');
    assert.equal(formatBytes(2 * 1024 ** 3), '2.00 GiB');
  });
});
