/**
 * Untitled one-file tar layers of every tar media type (OCI and Docker; plain, gzip, zstd) are
 * unpacked: the disk is the one entry, named by it, byte for byte. Layers are built by code.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isTarLayerMediaType, MediaTypes } from 'ocipull';
import { diskLayout, orchestratorWith, sha256 } from '../reliability/support.js';
import { seededBytes } from '../support/codec.js';
import { tempDir } from '../support/paths.js';
import { tarOfFiles } from '../support/tar.js';

const zstd = (bytes: Buffer) =>
  execFileSync('zstd', ['-q', '-c', '-3'], { input: bytes, maxBuffer: 1 << 28 });

const CASES: { mediaType: string; compress: (b: Buffer) => Buffer }[] = [
  { mediaType: MediaTypes.ociLayerTar, compress: (b) => b },
  { mediaType: MediaTypes.ociLayerTarGzip, compress: gzipSync },
  { mediaType: MediaTypes.ociLayerTarZstd, compress: zstd },
  { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', compress: zstd },
  { mediaType: 'application/vnd.docker.image.rootfs.diff.tar', compress: (b) => b },
  { mediaType: MediaTypes.dockerLayerTarGzip, compress: gzipSync },
  { mediaType: MediaTypes.dockerLayerTarZstd, compress: zstd },
  { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', compress: gzipSync },
];

describe('untitled one-file tar layers of every tar media type', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    tmp = await tempDir('ocipull-tar-layers-');
  });
  after(() => tmp.cleanup());

  it('every tar media type is taken as a tar, and nothing else is', () => {
    for (const c of CASES) assert.equal(isTarLayerMediaType(c.mediaType), true, c.mediaType);
    for (const other of [
      'application/zstd',
      'application/x-tar-ish',
      'application/vnd.oci.image.layer.v1.tarball',
    ])
      assert.equal(isTarLayerMediaType(other), false, other);
  });

  let n = 0;
  for (const c of CASES) {
    for (const allowMissingTitle of [false, true]) {
      it(`${c.mediaType}${allowMissingTitle ? ' (--allow-missing-title)' : ''}: writes the one file, not the tar`, async () => {
        // The preset (qemu) says qcow2: the disk must start as one.
        const disk = Buffer.concat([
          Buffer.from('QFI\xfb', 'latin1'),
          seededBytes(`tar-layer ${c.mediaType}`, 300_000),
        ]);
        const sandbox = join(tmp.dir, String(++n));
        const layer = c.compress(await tarOfFiles([{ name: 'disk.qcow2', data: disk }]));
        const layout = await diskLayout(join(sandbox, 'layout'), {
          layer,
          layerMediaType: c.mediaType,
          layerDescriptor: ({ annotations: _untitled, ...rest }) => rest,
        });
        const orchestrator = await orchestratorWith({ allowMissingTitle });
        const output = join(sandbox, 'out.qcow2');
        const result = await orchestrator.pull({ source: layout.source, output });
        assert.equal(result.details?.layerKind, 'tar');
        assert.equal(result.details?.codec, 'none');
        assert.equal(sha256(await fsp.readFile(output)), sha256(disk));
      });
    }
  }
});
