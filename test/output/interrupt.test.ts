import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sh } from '../support/codec.js';
import { prngBytes } from '../support/files.js';
import { buildMachineOsLayout } from '../support/machine-os.js';
import { cliPath, tempDir } from '../support/paths.js';

/** Ctrl-C in the middle of decompression: exit 130 (143 for SIGTERM), nothing at the output path, no temp file. */
describe('interrupting a pull', () => {
  let dir = '';
  let cleanup = async () => {};
  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-interrupt-'));
    // bzip2 decoded in-process (pure JavaScript) takes a few seconds: time enough to interrupt.
    const text = Buffer.from('a line of a disk that compresses well enough\n'.repeat(250_000));
    await fsp.writeFile(
      join(dir, 'disk.raw'),
      Buffer.concat([text, prngBytes(1 << 20, 1), Buffer.alloc(8 << 20), text]),
    );
    sh('bzip2', ['-1', join(dir, 'disk.raw')]);
    await buildMachineOsLayout(join(dir, 'layout'), {
      tag: '5.5',
      disks: [{ diskType: 'applehv', arch: 'x86_64', path: join(dir, 'disk.raw.bz2') }],
    });
    await fsp.mkdir(join(dir, 'out'));
    // The applehv preset's settings with the plugins this needs (no cache: not what is tested here).
    const plugins = ['oci-dir', 'disk-select', 'unpack-blob', 'unpack-tar', 'codec-bzip2', 'codec-none'];
    const preset = { plugins, settings: { diskType: 'applehv', format: 'raw', sparse: true } };
    await fsp.writeFile(join(dir, 'preset.json'), JSON.stringify(preset));
  });
  after(() => cleanup());

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} while decompressing leaves no file`, async () => {
      const target = join(dir, 'out', `disk-${signal}.raw`);
      const child = spawn(
        process.execPath,
        [
          cliPath,
          'pull',
          `oci-dir:${join(dir, 'layout')}:5.5`,
          '--preset',
          join(dir, 'preset.json'),
          '--arch',
          'x86_64',
          '-o',
          target,
          '--progress',
          'json',
          '--cache-dir',
          join(dir, 'cache'),
        ],
        { env: { ...process.env, OCIPULL_CODEC_MODE_BZIP2: 'inprocess' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      let sent = false;
      child.stderr.setEncoding('utf8').on('data', (text: string) => {
        stderr += text;
        if (!sent && /"phase":"decompress","bytes":[1-9]/.test(stderr)) {
          sent = true;
          child.kill(signal);
        }
      });
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      assert.ok(sent, `never saw decompression progress: ${stderr}`);
      assert.equal(code, signal === 'SIGINT' ? 130 : 143, stderr);
      await assert.rejects(fsp.stat(target), { code: 'ENOENT' });
      assert.deepEqual(await fsp.readdir(join(dir, 'out')), []);
    });
  }
});
