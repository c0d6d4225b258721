import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ErrorCode } from 'ocipull';
import { runCli } from '../support/cli.js';
import { compress, makeDisk } from '../support/disks.js';
import { buildMachineOsLayout, type MachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';

/** The CLI over a generated layout: byte-identical disks, and failures with their exit codes. */
describe('ocipull pull oci-dir:… (CLI)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let layout: MachineOsLayout;
  let vhdx: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    vhdx = await makeDisk(dir, { format: 'vhdx', sizeMiB: 16, dataMiB: 1, seed: 9 });
    layout = await buildMachineOsLayout(join(dir, 'layout'), {
      tag: '5.5',
      nested: true,
      disks: [{ diskType: 'hyperv', arch: 'x86_64', path: await compress(vhdx, 'zstd') }],
    });
  });
  after(() => cleanup());

  function pull(args: string[]) {
    return runCli(['pull', ...args, '--cache-dir', join(dir, 'cache')], { cwd: dir });
  }

  test('--preset hyperv writes the vhdx byte for byte, --json reports it', async () => {
    const out = join(dir, 'disk.vhdx');
    const result = await pull([
      `oci-dir:${layout.layoutDir}:5.5`,
      '--preset',
      'hyperv',
      '--arch',
      'amd64',
      '-o',
      out,
      '--json',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok((await fsp.readFile(out)).equals(await fsp.readFile(vhdx)));
    const report = JSON.parse(result.stdout);
    assert.equal(report.manifestDigest, layout.disks[0]!.manifestDigest);
    assert.equal(report.blobDigest, layout.disks[0]!.blobDigest);
    assert.deepEqual(report.platform, { os: 'linux', architecture: 'x86_64' });
  });

  // Exit codes as docs/errors.md documents them (2 usage, 3 not found), written out here rather
  // than asked of the code under test.
  const failures: [string, (l: string) => string, ErrorCode, number][] = [
    ['a missing tag', (l) => `oci-dir:${l}:5.6`, 'TAG_NOT_FOUND', 3],
    ['a path-like tag', (l) => `oci-dir:${l}:../x`, 'TAG_INVALID', 2],
    ['a directory that is not a layout', (l) => `oci-dir:${l}/blobs`, 'LAYOUT_MISSING', 3],
  ];
  for (const [name, source, code, exit] of failures) {
    test(`${name}: ${code}, exit ${exit}, nothing written`, async () => {
      const outDir = join(dir, `out-${code}`);
      await fsp.mkdir(outDir);
      const result = await pull([
        source(layout.layoutDir),
        '--preset',
        'hyperv',
        '-o',
        join(outDir, 'x.vhdx'),
        '--json',
      ]);
      assert.equal(result.code, exit, result.stderr);
      assert.equal(JSON.parse(result.stdout).error.code, code);
      assert.deepEqual(await fsp.readdir(outDir), []);
    });
  }

  test('a missing tag names the tags that exist', async () => {
    const result = await pull([
      `oci-dir:${layout.layoutDir}:5.6`,
      '--preset',
      'qemu',
      '-o',
      join(dir, 'never.qcow2'),
    ]);
    assert.match(result.stderr, /TAG_NOT_FOUND/);
    assert.match(result.stderr, /tags in this layout: 5\.5/);
  });
});
