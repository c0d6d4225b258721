/**
 * Text output never carries a published image's control characters raw: `inspect`, `cache ls`
 * and error messages print ESC, BEL, CR, LF, TAB, C1 controls and bidi overrides as escapes, so an
 * annotation can neither drive the terminal nor forge a line. JSON output stays lossless.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { printable } from '../../core/log.js';
import { runCli } from '../support/cli.js';
import { compress, makeDisk } from '../support/disks.js';
import { buildMachineOsLayout } from '../support/machine-os.js';
import { tempDir } from '../support/paths.js';

/** Every character class that must not reach a terminal raw (LF aside, checked by line counts). */
const RAW =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const HOSTILE = '\u001b[2J\u0007\r\nerror [OK]: forged\t\u009b31m\u0085\u202e\u2066\u2028';

describe('printable', () => {
  it('escapes C0, DEL, C1, line separators and bidi controls; keeps other text', () => {
    const controls = [
      ...Array.from({ length: 0x20 }, (_, i) => i),
      ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i),
      0x61c,
      0x200e,
      0x200f,
      0x2028,
      0x2029,
      ...[0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069],
    ].map((c) => String.fromCharCode(c));
    for (const c of controls) {
      const out = printable(`a${c}b`);
      assert.doesNotMatch(out, RAW, JSON.stringify(out));
      assert.doesNotMatch(out, /\n/);
      assert.match(out, /^a\\(u[0-9a-f]{4}|[nrt])b$/, JSON.stringify(out));
    }
    assert.equal(printable('a\u001b[31mb\nc'), 'a\\u001b[31mb\\nc');
    assert.equal(printable('line 1\nline\u202e 2', { multiline: true }), 'line 1\nline\\u202e 2');
    const plain = 'podman-machine.x86_64.qemu.qcow2.zst — ünïcödé 日本 🙂 ~!@#$%^&*()';
    assert.equal(printable(plain), plain);
  });

  it('escapes that JSON reads back as the same text', () => {
    const json = JSON.stringify({ title: HOSTILE });
    assert.deepEqual(JSON.parse(printable(json, { multiline: true })), { title: HOSTILE });
  });
});

describe('hostile text in command output', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let layout = '';
  let titled = '';
  const title = `podman-machine.x86_64.qemu.qcow2.zst${HOSTILE}`;

  before(async () => {
    tmp = await tempDir('ocipull-escaping-');
    const src = join(tmp.dir, 'src');
    await fsp.mkdir(src);
    const zst = await compress(
      await makeDisk(src, { format: 'qcow2', sizeMiB: 4, dataMiB: 1, seed: 3 }),
      'zstd',
    );
    layout = join(tmp.dir, 'inspect-layout');
    await buildMachineOsLayout(layout, {
      tag: '1',
      builder: 'store',
      disks: [{ diskType: 'qemu', arch: 'x86_64', path: zst, title }],
    });
    // What a pull accepts (no C0 controls in titles or references): C1 controls and bidi overrides.
    titled = join(tmp.dir, 'layout\u009b2J\u0085forged\u202e');
    await buildMachineOsLayout(titled, {
      tag: '1',
      builder: 'store',
      disks: [
        {
          diskType: 'qemu',
          arch: 'x86_64',
          path: zst,
          title: 'podman\u009b2J\u202e\u2066.x86_64.qemu.qcow2.zst',
        },
      ],
    });
  });
  after(() => tmp.cleanup());

  it('inspect prints the annotations escaped, on the lines it means to print', async () => {
    const r = await runCli(['inspect', `oci-dir:${layout}:1`], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, RAW);
    assert.doesNotMatch(r.stdout, /^error/m, 'no forged line');
    // source, root, blank, "Disks (1):", header, the disk, blank, "Container images (0 …):"
    assert.equal(r.stdout.trimEnd().split('\n').length, 8, r.stdout);
    assert.ok(r.stdout.includes(printable(title)), r.stdout);
    const json = await runCli(['inspect', `oci-dir:${layout}:1`, '--json'], { cwd: tmp.dir });
    assert.equal(json.code, 0, json.stderr);
    assert.doesNotMatch(json.stdout, RAW);
    assert.equal(JSON.parse(json.stdout).disks[0].title, title, 'JSON keeps the title exactly');
  });

  it('cache ls prints titles and sources escaped', async () => {
    const cache = join(tmp.dir, 'cache');
    const pulled = await runCli(
      [
        'pull',
        `oci-dir:${titled}:1`,
        '--preset',
        'qemu',
        '--arch',
        'x86_64',
        '--cache-dir',
        cache,
        '-o',
        join(tmp.dir, 'x.qcow2'),
        '-q',
      ],
      { cwd: tmp.dir },
    );
    assert.equal(pulled.code, 0, pulled.stderr);
    const r = await runCli(['cache', 'ls', '--cache-dir', cache], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, RAW);
    assert.equal(r.stdout.trimEnd().split('\n').length, 2, r.stdout);
    assert.match(r.stdout, /podman\\u009b2J\\u202e\\u2066\.x86_64/);
    assert.match(r.stdout, /layout\\u009b2J\\u0085forged\\u202e:1/);
  });

  it('an error message quoting a hostile name stays one line', async () => {
    const r = await runCli(['inspect', `oci-dir:${join(tmp.dir, `missing${HOSTILE}`)}`], { cwd: tmp.dir });
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr, RAW);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.filter((l) => l.startsWith('error ')).length, 1, r.stderr);
    assert.ok(
      lines.every((l) => /^(error \[[A-Z_]+\]: | {2}hint: | {2}in plugin )/.test(l)),
      r.stderr,
    );
  });
});
