/**
 * How progress ends, through the real CLI against a registry that serves the layer slowly (so
 * there are many progress events): on a terminal (a pseudo-terminal made by util-linux `script`)
 * the last bar shows 100% and the summary starts on a line of its own; with `--progress json`
 * the last download event is at the total, with percent and eta.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { machineOsFixture, type PublishedDisk } from '../registry/helpers.js';
import { runCli } from '../support/cli.js';
import { FakeRegistry } from '../support/fake-registry.js';
import { cliPath, tempDir } from '../support/paths.js';

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** Run the CLI on a pseudo-terminal; resolves with everything it wrote there. */
async function onTerminal(args: string[], dir: string): Promise<{ code: number | null; screen: string }> {
  const record = join(dir, 'typescript');
  const command = [process.execPath, cliPath, ...args].map(quote).join(' ');
  const child = spawn('script', ['-q', '-e', '-c', command, record], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  child.stdin.end();
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const text = await fsp.readFile(record, 'utf8');
  // `script` frames the session with a header and a footer line.
  const screen = text.slice(text.indexOf('\n') + 1, text.lastIndexOf('\nScript done'));
  return { code, screen };
}

describe('progress ends at the total', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disk: PublishedDisk;
  let fake: FakeRegistry;
  let n = 0;

  before(async () => {
    tmp = await tempDir('ocipull-progress-end-');
    disk = await machineOsFixture(tmp.dir);
    fake = await FakeRegistry.start({ layoutDir: disk.layout.layoutDir });
    fake.script((req) =>
      req.kind === 'blob' ? { kind: 'slow', chunkBytes: 96 * 1024, delayMs: 40 } : undefined,
    );
  });
  after(async () => {
    await fake.stop();
    await tmp.cleanup();
  });

  const pullArgs = (run: string, ...extra: string[]) => [
    'pull',
    `docker://${fake.addr}/podman/machine-os:5.5`,
    '--preset',
    'qemu',
    '--arch',
    'x86_64',
    '--cache-dir',
    join(run, 'cache'),
    '-o',
    join(run, 'disk.qcow2'),
    ...extra,
  ];
  const newRun = async () => {
    const run = join(tmp.dir, `run-${++n}`);
    await fsp.mkdir(run);
    return run;
  };

  it('on a terminal: the last bar shows 100%, a newline, then the summary', async () => {
    const run = await newRun();
    const { code, screen } = await onTerminal(pullArgs(run), run);
    assert.equal(code, 0, screen);
    const summary = screen.lastIndexOf(`${join(run, 'disk.qcow2')}: qemu disk for linux/x86_64`);
    assert.ok(summary > 0, screen);
    // The bars are redrawn in place: the last drawing of the download bar is the one left.
    const bars = screen.slice(0, summary);
    const last = bars.slice(bars.lastIndexOf('download'));
    assert.match(last, /^download +\[[^\]]+\] 100% (\S+ \S+) \/ \1 /, JSON.stringify(last));
    assert.match(bars, /\r?\n$/, 'a newline ends the bars before the summary');
    assert.doesNotMatch(screen.slice(summary), /download|decompress/, 'nothing redrawn over the summary');
  });

  it('--progress json: the last download event is at the total, with percent and eta', async () => {
    const run = await newRun();
    const r = await runCli(pullArgs(run, '--progress', 'json'), { cwd: run });
    assert.equal(r.code, 0, r.stderr);
    const events = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    const downloads = events.filter((e) => e.phase === 'download');
    assert.ok(downloads.length >= 3, `several download events: ${r.stderr}`);
    for (const e of downloads) {
      assert.equal(e.total, disk.blobSize);
      assert.equal(
        e.percent,
        Math.min(e.bytes === e.total ? 100 : 99, Math.floor((100 * e.bytes) / e.total)),
      );
    }
    const final = downloads.at(-1);
    assert.deepEqual(
      { bytes: final.bytes, total: final.total, percent: final.percent, eta: final.eta },
      { bytes: disk.blobSize, total: disk.blobSize, percent: 100, eta: 0 },
    );
    // Once a rate is known, so is the time left.
    for (const e of downloads.slice(1, -1)) {
      if (e.rate > 0) assert.ok(Number.isInteger(e.eta) && e.eta >= 0, JSON.stringify(e));
    }
    assert.ok(
      downloads.slice(1, -1).some((e) => e.rate > 0 && e.eta > 0),
      r.stderr,
    );
    assert.deepEqual(
      downloads.map((e) => e.bytes),
      [...downloads.map((e) => e.bytes)].sort((a, b) => a - b),
      'bytes only grow',
    );
  });
});
