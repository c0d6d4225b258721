/**
 * SIGINT / SIGTERM while a pull waits on a registry that stalls mid-blob: the run ends with the
 * shell's exit code (130 / 143), one line naming the signal (not the plugin that noticed the
 * abort), and nothing at the output path or beside it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { machineOsFixture } from '../registry/helpers.js';
import { FakeRegistry } from '../support/fake-registry.js';
import { cliPath, tempDir } from '../support/paths.js';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

describe('signals end a run cleanly', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let fake: FakeRegistry;
  let n = 0;

  before(async () => {
    tmp = await tempDir('ocipull-signals-');
    const disk = await machineOsFixture(tmp.dir);
    fake = await FakeRegistry.start({ layoutDir: disk.layout.layoutDir });
    // Blobs arrive in part, then nothing more: the pull waits until it is told to stop.
    fake.script((req) => (req.kind === 'blob' ? { kind: 'stall', afterBytes: 200_000 } : undefined));
  });
  after(async () => {
    await fake.stop();
    await tmp.cleanup();
  });

  const cases = [
    { signal: 'SIGINT', exit: 130, json: false },
    { signal: 'SIGTERM', exit: 143, json: false },
    { signal: 'SIGINT', exit: 130, json: true },
    { signal: 'SIGTERM', exit: 143, json: true },
  ] as const;
  for (const { signal, exit, json } of cases) {
    it(`${signal}${json ? ' with --json' : ''} during a stalled download: exit ${exit}, one line, no file`, async () => {
      const run = join(tmp.dir, `run-${++n}`);
      await fsp.mkdir(join(run, 'out'), { recursive: true });
      const target = join(run, 'out', 'disk.qcow2');
      const args = [
        cliPath,
        'pull',
        `docker://${fake.addr}/podman/machine-os:5.5`,
        '--preset',
        'qemu',
        '--arch',
        'x86_64',
        '-o',
        target,
        '--cache-dir',
        join(run, 'cache'),
        '--progress',
        'json',
        ...(json ? ['--json'] : []),
      ];
      const child = spawn(process.execPath, args, { cwd: run, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let sent = false;
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        stdout += text;
      });
      child.stderr.setEncoding('utf8').on('data', (text: string) => {
        stderr += text;
        if (!sent && /"phase":"download","bytes":[1-9]/.test(stderr)) {
          sent = true;
          child.kill(signal);
        }
      });
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      assert.ok(sent, `the download never started: ${stderr}`);
      assert.equal(code, exit, stderr);
      const errorLines = stderr.split('\n').filter((l) => /^error |^ {2}(hint|in plugin)/.test(l));
      assert.deepEqual(errorLines, [`error [INTERRUPTED]: interrupted by ${signal}`]);
      if (json) {
        assert.deepEqual(JSON.parse(stdout), {
          error: { code: 'INTERRUPTED', message: `interrupted by ${signal}` },
        });
      } else assert.equal(stdout, '');
      await assert.rejects(fsp.stat(target), { code: 'ENOENT' });
      assert.deepEqual(await fsp.readdir(join(run, 'out')), [], 'no temp file beside the output');
      // The cache keeps the bytes as a resumable partial, and no temp file.
      const cached = await filesUnder(join(run, 'cache'));
      assert.deepEqual(
        cached.filter((f) => /tmp/.test(f)),
        [],
        cached.join('\n'),
      );
    });
  }
});
