/**
 * `copy` without `--all` keeps the chosen entry's platform and annotations in the destination's
 * index.json, and `pull` of a lone manifest without platform takes no architecture it cannot see:
 * the title must name it (x86_64/amd64/aarch64/arm64), otherwise the pull is refused.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { writeIndependentLayout } from '../support/independent-layout.js';
import { tempDir } from '../support/paths.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Entry {
  digest: string;
  platform?: { os: string; architecture: string };
  annotations?: Record<string, string>;
}

describe('copy keeps the platform; selection guesses no architecture', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const amd = Buffer.alloc(64 * 1024, 0x11);
  const arm = Buffer.alloc(64 * 1024, 0x22);
  let n = 0;

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-copy-platform-'));
    await writeIndependentLayout(join(dir, 'src'), '5.5', [
      {
        diskType: 'qemu',
        arch: 'x86_64',
        bytes: amd,
        mediaType: 'application/octet-stream',
        title: 'podman-machine.x86_64.qemu.raw',
      },
      {
        diskType: 'qemu',
        arch: 'aarch64',
        bytes: arm,
        mediaType: 'application/octet-stream',
        title: 'podman-machine.aarch64.qemu.raw',
      },
    ]);
  });
  after(() => cleanup());

  const pull = (source: string, arch: string) => {
    const out = join(dir, `out-${++n}.raw`);
    return runCli([
      'pull',
      source,
      '--disk-type',
      'qemu',
      '--arch',
      arch,
      '-o',
      out,
      '--cache-dir',
      join(dir, `cache-${n}`),
      '--json',
    ]).then((r) => ({ ...r, out }));
  };
  const indexOf = async (layout: string) =>
    JSON.parse(await fsp.readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Entry[] };

  test('copy of the aarch64 disk records its platform and disktype; pull for amd64 is refused', async () => {
    const dest = join(dir, 'one');
    const copy = await runCli([
      'copy',
      `oci-dir:${join(dir, 'src')}:5.5`,
      `oci-dir:${dest}:one`,
      '--arch',
      'aarch64',
    ]);
    assert.equal(copy.code, 0, copy.stderr);
    const [entry, ...rest] = (await indexOf(dest)).manifests;
    assert.equal(rest.length, 0);
    assert.deepEqual(entry!.platform, { architecture: 'aarch64', os: 'linux' });
    assert.equal(entry!.annotations?.disktype, 'qemu');
    assert.equal(entry!.annotations?.['org.opencontainers.image.ref.name'], 'one');

    const wrong = await pull(`oci-dir:${dest}:one`, 'amd64');
    assert.equal(wrong.code, 3, wrong.stderr);
    assert.match(wrong.stderr, /NO_MATCHING_DISK/);
    assert.match(wrong.stderr, /linux\/aarch64/);
    await assert.rejects(fsp.access(wrong.out));

    const right = await pull(`oci-dir:${dest}:one`, 'arm64');
    assert.equal(right.code, 0, right.stderr);
    assert.equal(sha(await fsp.readFile(right.out)), sha(arm));
  });

  test('a platform-less entry: the title names the architecture, or the pull is refused', async () => {
    const dest = join(dir, 'bare');
    const copy = await runCli([
      'copy',
      `oci-dir:${join(dir, 'src')}:5.5`,
      `oci-dir:${dest}:bare`,
      '--arch',
      'aarch64',
    ]);
    assert.equal(copy.code, 0, copy.stderr);
    // What copy wrote before it kept the platform: the entry has only its tag.
    const index = await indexOf(dest);
    for (const m of index.manifests) {
      delete m.platform;
      m.annotations = { 'org.opencontainers.image.ref.name': 'bare' };
    }
    await fsp.writeFile(join(dest, 'index.json'), JSON.stringify(index));

    const wrong = await pull(`oci-dir:${dest}:bare`, 'amd64');
    assert.equal(wrong.code, 3, wrong.stderr);
    assert.match(wrong.stderr, /NO_MATCHING_DISK/);
    assert.match(
      wrong.stderr,
      /carries no platform and its title "podman-machine\.aarch64\.qemu\.raw" names arm64/,
    );
    await assert.rejects(fsp.access(wrong.out));
    const right = await pull(`oci-dir:${dest}:bare`, 'aarch64');
    assert.equal(right.code, 0, right.stderr);
    assert.equal(sha(await fsp.readFile(right.out)), sha(arm));
  });

  test('a platform-less entry whose title names no architecture is refused for every arch', async () => {
    const layout = join(dir, 'untold');
    await writeIndependentLayout(layout, 'x', [
      {
        diskType: 'qemu',
        arch: 'aarch64',
        bytes: arm,
        mediaType: 'application/octet-stream',
        title: 'disk.raw',
      },
    ]);
    const copy = await runCli([
      'copy',
      `oci-dir:${layout}:x`,
      `oci-dir:${join(dir, 'untold-one')}:d`,
      '--arch',
      'arm64',
    ]);
    assert.equal(copy.code, 0, copy.stderr);
    const dest = join(dir, 'untold-one');
    const index = await indexOf(dest);
    for (const m of index.manifests) delete m.platform;
    await fsp.writeFile(join(dest, 'index.json'), JSON.stringify(index));
    // The disktype-annotated entry is read as a one-entry index: an entry without platform is never chosen.
    const flat = await pull(`oci-dir:${dest}:d`, 'arm64');
    assert.equal(flat.code, 3, flat.stderr);
    assert.match(flat.stderr, /NO_MATCHING_DISK/);
    assert.match(
      flat.stderr,
      /offers: qemu \?\/\? \(\?: the entry has no platform, so its platform is unknown/,
    );
    // Without the annotation the entry is the disk manifest itself: its title must name the arch.
    for (const m of index.manifests) m.annotations = { 'org.opencontainers.image.ref.name': 'd' };
    await fsp.writeFile(join(dest, 'index.json'), JSON.stringify(index));
    for (const arch of ['amd64', 'arm64']) {
      const r = await pull(`oci-dir:${dest}:d`, arch);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /NO_MATCHING_DISK/);
      assert.match(r.stderr, /platform of manifest sha256:[0-9a-f]{64} is unknown/);
      assert.match(r.stderr, /republish it with its platform/);
      await assert.rejects(fsp.access(r.out));
    }
  });
});
