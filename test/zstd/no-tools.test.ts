/**
 * With no `zstd` or `xz` on PATH (macOS, Windows), the codecs decode in worker threads: the real
 * CLI, given a PATH that holds neither tool, pulls zstd and xz disks from a layout byte for byte.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../support/cli.js';
import { type Codec, compress, makeDisk } from '../support/disks.js';
import { sha256File } from '../support/files.js';
import { buildMachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';

describe('pull with neither zstd nor xz on PATH', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let emptyPath: string;
  const originals: Partial<Record<Codec, string>> = {};
  const layouts: Partial<Record<Codec, string>> = {};

  before(async () => {
    tmp = await tempDir('ocipull-no-tools-');
    emptyPath = join(tmp.dir, 'bin');
    await fsp.mkdir(emptyPath);
    for (const [codec, seed] of [
      ['zstd', 41],
      ['xz', 42],
    ] as const) {
      const dir = join(tmp.dir, codec);
      await fsp.mkdir(dir);
      const original = await makeDisk(dir, { format: 'qcow2', sizeMiB: 48, dataMiB: 6, seed });
      originals[codec] = original;
      const layout = await buildMachineOsLayout(join(dir, 'layout'), {
        tag: 'latest',
        nested: true,
        disks: [{ diskType: 'qemu', arch: 'x86_64', path: await compress(original, codec) }],
      });
      layouts[codec] = layout.layoutDir;
    }
  });
  after(() => tmp.cleanup());

  for (const codec of ['zstd', 'xz'] as const) {
    it(`decodes a ${codec} disk in process, byte-identical`, async () => {
      const out = join(tmp.dir, `out-${codec}.qcow2`);
      const r = await runCli(
        [
          'pull',
          `oci:${layouts[codec]}:latest`,
          '--disk-type',
          'qemu',
          '--arch',
          'x86_64',
          '-o',
          out,
          '--cache-dir',
          join(tmp.dir, `cache-${codec}`),
        ],
        // Undefined: left out of the child's environment, so the mode is `auto`.
        {
          env: {
            PATH: emptyPath,
            OCIPULL_CODEC_MODE: undefined,
            OCIPULL_CODEC_MODE_ZSTD: undefined,
            OCIPULL_CODEC_MODE_XZ: undefined,
          },
        },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await sha256File(out), await sha256File(originals[codec]!));
    });
  }

  it('mode child with no tool on PATH is NO_CODEC, naming the tool', async () => {
    const out = join(tmp.dir, 'out-child.qcow2');
    const r = await runCli(
      [
        'pull',
        `oci:${layouts.zstd}:latest`,
        '--disk-type',
        'qemu',
        '--arch',
        'x86_64',
        '-o',
        out,
        '--cache-dir',
        join(tmp.dir, 'cache-child'),
        '--json',
      ],
      { env: { PATH: emptyPath, OCIPULL_CODEC_MODE: 'child' } },
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /NO_CODEC/);
    assert.match(r.stdout + r.stderr, /zstd/);
    await assert.rejects(fsp.stat(out), { code: 'ENOENT' });
  });
});
