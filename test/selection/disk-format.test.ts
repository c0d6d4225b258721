/**
 * A pull checks the decoded disk's magic against its title before the output is committed:
 * random bytes titled `.qcow2.zst` or a vhdx titled qcow2 are DISK_FORMAT_MISMATCH, nothing kept.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkDiskFormat, isOcipullError } from 'ocipull';
import { diskLayout, orchestratorWith, sha256 } from '../reliability/support.js';
import { seededBytes } from '../support/codec.js';
import { tempDir } from '../support/paths.js';

const zstd = (bytes: Buffer) =>
  execFileSync('zstd', ['-q', '-c', '-1'], { input: bytes, maxBuffer: 1 << 28 });
const latin1 = (s: string) => Buffer.from(s, 'latin1');
/** A tar header block: `ustar` at byte 257. */
const tarHead = () => {
  const block = Buffer.alloc(512);
  block.write('disk', 0);
  block.write('ustar\u000000', 257, 'latin1');
  return block;
};

const CASES: { what: string; title: string; head: () => Buffer; size?: number; found?: string }[] = [
  {
    what: 'random bytes titled qcow2',
    title: 'podman-machine.x86_64.qemu.qcow2.zst',
    head: () => Buffer.alloc(0),
    found: 'unknown',
  },
  {
    what: 'a vhdx titled qcow2',
    title: 'podman-machine.x86_64.qemu.qcow2.zst',
    head: () => latin1('vhdxfile'),
    found: 'vhdx',
  },
  {
    what: 'a qcow2 titled raw',
    title: 'podman-machine.x86_64.applehv.raw.zst',
    head: () => latin1('QFI\xfb'),
    found: 'qcow2',
  },
  {
    what: 'a qcow2 titled vhdx',
    title: 'podman-machine.x86_64.hyperv.vhdx.zst',
    head: () => latin1('QFI\xfb'),
    found: 'qcow2',
  },
  {
    what: 'a raw disk titled tar',
    title: 'podman-machine.x86_64.wsl.tar.zst',
    head: () => Buffer.alloc(0),
    found: 'unknown',
  },
  { what: 'a tar titled raw', title: 'podman-machine.x86_64.applehv.raw.zst', head: tarHead, found: 'tar' },
  // 24 MiB decoded: refused once the first bytes are on disk, the output never committed.
  {
    what: 'a long vhdx titled qcow2',
    title: 'podman-machine.x86_64.qemu.qcow2.zst',
    head: () => latin1('vhdxfile'),
    size: 24 << 20,
    found: 'vhdx',
  },
];

const ACCEPTED: { what: string; title: string; head: () => Buffer }[] = [
  {
    what: 'a qcow2 titled qcow2',
    title: 'podman-machine.x86_64.qemu.qcow2.zst',
    head: () => latin1('QFI\xfb'),
  },
  {
    what: 'a vhdx titled vhdx',
    title: 'podman-machine.x86_64.hyperv.vhdx.zst',
    head: () => latin1('vhdxfile'),
  },
  {
    what: 'a raw disk titled raw',
    title: 'podman-machine.x86_64.applehv.raw.zst',
    head: () => Buffer.alloc(0),
  },
  { what: 'a tar titled tar', title: 'podman-machine.x86_64.wsl.tar.zst', head: tarHead },
  {
    what: 'a qcow2 titled img (img is either)',
    title: 'podman-machine.x86_64.qemu.img.zst',
    head: () => latin1('QFI\xfb'),
  },
];

describe('pull: the disk is the format its title says', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    tmp = await tempDir('ocipull-disk-format-');
  });
  after(() => tmp.cleanup());
  let n = 0;

  const disk = (head: Buffer, size = 200_000) => {
    const body = seededBytes(`disk-format ${n}`, Math.min(size, 1 << 20));
    const parts = [head, body.subarray(head.length)];
    for (let at = body.length; at < size; at += 1 << 20)
      parts.push(Buffer.alloc(Math.min(1 << 20, size - at)));
    return Buffer.concat(parts);
  };

  for (const c of CASES) {
    it(`refuses ${c.what}: DISK_FORMAT_MISMATCH, no output`, async () => {
      const sandbox = join(tmp.dir, String(++n));
      const layout = await diskLayout(join(sandbox, 'layout'), {
        layer: zstd(disk(c.head(), c.size)),
        title: c.title,
      });
      const orchestrator = await orchestratorWith({ cacheDir: join(sandbox, 'cache') });
      const output = join(sandbox, 'out.disk');
      await assert.rejects(orchestrator.pull({ source: layout.source, output }), (error) => {
        assert.ok(isOcipullError(error, 'DISK_FORMAT_MISMATCH'), String(error));
        assert.match(error.message, new RegExp(`title ${c.title.replace(/\./g, '\\.')} says`));
        assert.equal((error.data as { found?: string })?.found, c.found);
        return true;
      });
      await assert.rejects(fsp.stat(output), { code: 'ENOENT' });
      const left = (await fsp.readdir(sandbox)).filter((f) => f.includes('ocipull-tmp'));
      assert.deepEqual(left, []);
    });
  }

  for (const c of ACCEPTED) {
    it(`writes ${c.what}`, async () => {
      const sandbox = join(tmp.dir, String(++n));
      const bytes = disk(c.head());
      const layout = await diskLayout(join(sandbox, 'layout'), { layer: zstd(bytes), title: c.title });
      const orchestrator = await orchestratorWith({ cacheDir: join(sandbox, 'cache') });
      const output = join(sandbox, 'out.disk');
      await orchestrator.pull({ source: layout.source, output });
      assert.equal(sha256(await fsp.readFile(output)), sha256(bytes));
    });
  }

  it('checkDiskFormat: a fixed (magic-less) vhd passes, a short head is no tar', () => {
    checkDiskFormat(Buffer.alloc(512), 'vhd', 'test');
    checkDiskFormat(latin1('conectix'), 'vhd', 'test');
    assert.throws(() => checkDiskFormat(Buffer.alloc(100), 'tar', 'test'), /says tar/);
    checkDiskFormat(Buffer.alloc(0), undefined, 'test');
  });
});
