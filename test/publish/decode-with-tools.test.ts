/**
 * What `ocipull pack --compress` writes is a stream the real tools decode: the layer blob (found
 * through index.json with fs, its digest checked with node:crypto) goes through `zstd -d`,
 * `xz -d` and `gzip -d`, and the result must be the input disk byte for byte.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { makeDisk, run } from '../support/disks.js';
import { readLayoutIndex, sha256DigestOfFile } from '../support/independent.js';
import { tempDir } from '../support/paths.js';

describe('pack output decoded by the real codec tools', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let disk: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-decode-'));
    disk = await makeDisk(dir, { format: 'qcow2', sizeMiB: 16, dataMiB: 1, seed: 143 });
  });
  after(() => cleanup());

  const cases: [codec: 'zstd' | 'xz' | 'gzip', tool: string, mediaType: string, ext: string][] = [
    ['zstd', 'zstd', 'application/zstd', '.zst'],
    ['xz', 'xz', 'application/x-xz', '.xz'],
    ['gzip', 'gzip', 'application/gzip', '.gz'],
  ];
  for (const [codec, tool, mediaType, ext] of cases) {
    test(`--compress ${codec}: \`${tool} -d\` gives back the disk`, async () => {
      const layout = join(dir, `layout-${codec}`);
      const packed = await runCli([
        'pack',
        `oci-dir:${layout}:1`,
        '--arch',
        'x86_64',
        '--disk',
        `qemu=${disk}`,
        '--compress',
        codec,
      ]);
      assert.equal(packed.code, 0, packed.stderr);
      const [entry] = (await readLayoutIndex(layout, '1')).disks;
      assert.equal(entry!.descriptor.annotations?.disktype, 'qemu');
      const blob = join(layout, 'blobs', 'sha256', entry!.blobDigest.slice(7));
      assert.equal(await sha256DigestOfFile(blob), entry!.blobDigest);
      assert.ok(entry!.title.endsWith(ext), entry!.title);
      const manifest = JSON.parse(
        await fsp.readFile(join(layout, 'blobs', 'sha256', entry!.manifestDigest.slice(7)), 'utf8'),
      );
      assert.equal(manifest.layers[0].mediaType, mediaType);
      const decoded = join(dir, `decoded-${codec}`);
      await run(tool, ['-d', '-c', blob], decoded);
      assert.equal(await sha256DigestOfFile(decoded), await sha256DigestOfFile(disk));
    });
  }
});
