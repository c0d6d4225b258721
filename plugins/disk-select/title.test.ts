import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOcipullError } from 'ocipull';
import { parseTitle } from './title.js';

describe('disk-select: layer titles', () => {
  const good: [string, string, string | undefined][] = [
    ['podman-machine.x86_64.qemu.qcow2.zst', 'qcow2', 'zst'],
    ['podman-machine.aarch64.applehv.raw.zst', 'raw', 'zst'],
    ['podman-machine.x86_64.wsl.tar.zst', 'tar', 'zst'],
    ['fedora-coreos-39.20240128.2.2-qemu.x86_64.qcow2.xz', 'qcow2', 'xz'],
    ['disk.vhdx.gz', 'vhdx', 'gz'],
    ['disk.raw.bz2', 'raw', 'bz2'],
    ['disk.qcow2', 'qcow2', undefined],
    ['disk.x86_64.raw', 'raw', undefined],
    ['disk.qcow2.lz4', 'qcow2', 'lz4'],
  ];
  for (const [title, format, codec] of good) {
    it(`${title} → ${format} + ${codec ?? 'uncompressed'}`, () => {
      assert.deepEqual(
        parseTitle(title),
        codec === undefined ? { format } : { format, codecExtension: codec },
      );
    });
  }

  const bad = [
    '',
    'disk',
    'disk.zst',
    '.qcow2.zst',
    'dir/disk.qcow2.zst',
    '/disk.qcow2.zst',
    '..',
    'a\\b.raw.xz',
    'disk.qcow2.zst\n',
    'disk.',
    'disk.unknownformat',
    `${'a'.repeat(250)}.qcow2.zst`,
  ];
  for (const title of bad) {
    it(`${JSON.stringify(title.length > 40 ? `${title.slice(0, 20)}…` : title)} is refused`, () => {
      assert.throws(
        () => parseTitle(title),
        (error) => isOcipullError(error, 'ARTIFACT_TITLE_INVALID'),
      );
    });
  }

  it('counts third-party codec extensions', () => {
    assert.deepEqual(
      parseTitle('disk.raw.lz4', (e) => e === 'lz4'),
      { format: 'raw', codecExtension: 'lz4' },
    );
    assert.throws(() => parseTitle('disk.lz4', (e) => e === 'lz4'), /names codec \.lz4 but no disk format/);
  });
});
