/**
 * Hostile one-file tar layers, pulled end to end from an OCI layout: each is refused with its
 * code, plain, gzip- and zstd-compressed, and nothing appears outside the output path (nor at it).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { type ErrorCode, MediaTypes } from 'ocipull';
import { prngBytes } from '../support/files.js';
import { tempDir } from '../support/paths.js';
import { type TarEntry, tarOf } from '../support/tar.js';
import { ran } from './figures.js';
import { diskLayout, exists, orchestratorWith, rejectsWith, snapshot } from './support.js';

describe('hostile tar layers are refused and write nothing outside the output path', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  // Absolute targets a naive extractor would write to.
  const evil = join(tmpdir(), `ocipull-evil-${randomBytes(6).toString('hex')}`);
  let n = 0;

  before(async () => {
    tmp = await tempDir('ocipull-hostile-tar-');
  });
  after(async () => {
    await tmp.cleanup();
    await fsp.rm(evil, { recursive: true, force: true });
  });

  const disk = () => Buffer.from(prngBytes(4096, 1));
  const cases: { id: string; entries: () => TarEntry[]; code: ErrorCode }[] = [
    {
      id: 'tar.dotdot',
      entries: () => [{ header: { name: '../../escaped.qcow2', type: 'file' }, content: disk() }],
      code: 'TAR_UNSAFE_PATH',
    },
    {
      id: 'tar.absolute',
      entries: () => [{ header: { name: `${evil}/disk.qcow2`, type: 'file' }, content: disk() }],
      code: 'TAR_UNSAFE_PATH',
    },
    {
      id: 'tar.symlink-out',
      entries: () => [
        { header: { name: 'images', type: 'symlink', linkname: evil } },
        { header: { name: 'images/pwned', type: 'file' }, content: disk() },
      ],
      code: 'TAR_ENTRY_NOT_REGULAR',
    },
    {
      id: 'tar.hardlink-out',
      entries: () => [
        { header: { name: 'disk.qcow2', type: 'link', linkname: '/etc/passwd' } },
        { header: { name: 'disk.qcow2', type: 'file' }, content: disk() },
      ],
      code: 'TAR_ENTRY_NOT_REGULAR',
    },
    {
      id: 'tar.char-device',
      entries: () => [{ header: { name: 'disk.qcow2', type: 'character-device', devmajor: 1, devminor: 3 } }],
      code: 'TAR_ENTRY_NOT_REGULAR',
    },
    {
      id: 'tar.block-device',
      entries: () => [{ header: { name: 'disk.qcow2', type: 'block-device', devmajor: 8, devminor: 0 } }],
      code: 'TAR_ENTRY_NOT_REGULAR',
    },
    {
      id: 'tar.fifo',
      entries: () => [{ header: { name: 'disk.qcow2', type: 'fifo' } }],
      code: 'TAR_ENTRY_NOT_REGULAR',
    },
    {
      id: 'tar.thousands',
      entries: () =>
        Array.from({ length: 5000 }, (_, i) => ({
          header: { name: i === 0 ? 'disk.qcow2' : `../f${i}`, type: 'file' as const },
          content: Buffer.from(`entry ${i}`),
        })),
      code: 'TAR_MULTIPLE_ENTRIES',
    },
    {
      // A 5 MiB pax header: refused before it is buffered.
      id: 'tar.giant-header',
      entries: () => [{ header: { name: `${'a'.repeat(5 << 20)}.qcow2`, type: 'file' }, content: disk() }],
      code: 'TAR_INVALID',
    },
    {
      // A 1 MiB file name in a valid pax header: no file system takes it.
      id: 'tar.long-name',
      entries: () => [{ header: { name: `${'b'.repeat(1 << 20)}.qcow2`, type: 'file' }, content: disk() }],
      code: 'TAR_UNSAFE_PATH',
    },
  ];

  for (const c of cases) {
    it(`${c.id}: ${c.code}, plain, gzip and zstd`, async () => {
      let refused = 0;
      const plain = await tarOf(c.entries());
      for (const [variant, layer, mediaType] of [
        ['plain', plain, MediaTypes.ociLayerTar],
        ['gzip', gzipSync(plain), MediaTypes.ociLayerTarGzip],
        [
          'zstd',
          execFileSync('zstd', ['-q', '-c'], { input: plain, maxBuffer: 1 << 28 }),
          MediaTypes.ociLayerTarZstd,
        ],
      ] as const) {
        const sandbox = join(tmp.dir, `${++n}-${variant}`);
        const out = join(sandbox, 'out');
        await fsp.mkdir(out, { recursive: true });
        const layout = await diskLayout(join(sandbox, 'layout'), {
          layer,
          layerMediaType: mediaType,
          title: 'podman-machine.x86_64.qemu.qcow2',
        });
        const beforeTree = await snapshot(sandbox, ['layout']);
        const orchestrator = await orchestratorWith({ cacheDir: join(sandbox, 'cache') });
        await rejectsWith(
          orchestrator.pull({ source: layout.source, output: join(out, 'disk.qcow2') }),
          c.code,
        );
        refused++;
        assert.deepEqual(await snapshot(sandbox, ['layout']), beforeTree, 'nothing written in the sandbox');
        assert.equal(await exists(evil), false, `nothing written at ${evil}`);
        assert.equal(await exists(join(sandbox, '..', 'escaped.qcow2')), false);
        assert.equal(await exists(join(tmp.dir, '..', 'escaped.qcow2')), false);
      }
      ran(c.id, { refused });
    });
  }
});
