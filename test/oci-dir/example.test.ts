import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { makeDisk, run } from '../support/disks.js';
import { repoRoot, tempDir } from '../support/paths.js';

const EXAMPLE = join(repoRoot, 'examples', 'machine-os');

/** Every file of a layout, relative path → bytes. */
async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await fsp.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(path.slice(dir.length + 1), await fsp.readFile(path));
  }
  return files;
}

function sh(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the shipped example and the quick start', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let qcow2: Buffer;

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    // The example's qemu disk, made again the way build-example.mjs makes it.
    qcow2 = await fsp.readFile(
      await makeDisk(dir, { format: 'qcow2', sizeMiB: 64, dataMiB: 0.5, seed: 11, name: 'q.qcow2' }),
    );
  });
  after(() => cleanup());

  test('examples/machine-os is exactly what examples/build-example.mjs builds', async () => {
    const rebuilt = join(dir, 'rebuilt');
    // Built afresh, not from the fixture-disk cache, so this proves the builder is deterministic.
    process.env.OCIPULL_TEST_DISK_CACHE = 'off';
    await run(process.execPath, [join(repoRoot, 'examples', 'build-example.mjs'), rebuilt]).finally(() => {
      delete process.env.OCIPULL_TEST_DISK_CACHE;
    });
    const [committed, fresh] = await Promise.all([snapshot(EXAMPLE), snapshot(rebuilt)]);
    assert.deepEqual([...committed.keys()].sort(), [...fresh.keys()].sort());
    for (const [name, bytes] of fresh) assert.ok(bytes.equals(committed.get(name)!), `${name} differs`);
    const total = [...committed.values()].reduce((n, b) => n + b.length, 0);
    assert.ok(total < 3 * 1024 * 1024, `the example is ${total} bytes`);
  });

  test('the README command (`ocipull pull oci-dir:examples/machine-os:latest --preset qemu -o ...`) writes a qcow2 qemu-img accepts', async () => {
    const out = join(dir, 'machine.qcow2');
    const result = await runCli(
      ['pull', 'oci-dir:examples/machine-os:latest', '--preset', 'qemu', '-o', out],
      {
        cwd: repoRoot,
        env: { XDG_CACHE_HOME: join(dir, 'cache') },
      },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.ok((await fsp.readFile(out)).equals(qcow2), 'byte-identical to the packed disk');
    const info = JSON.parse(await run('qemu-img', ['info', '--output=json', out])) as Record<string, unknown>;
    assert.equal(info.format, 'qcow2');
    assert.equal(info['virtual-size'], 64 * 1024 * 1024);
  });

  test('--json reports the pull', async () => {
    const out = join(dir, 'json.qcow2');
    const result = await runCli(
      [
        'pull',
        'oci-dir:examples/machine-os:latest',
        '--preset',
        'qemu',
        '--arch',
        'aarch64',
        '-o',
        out,
        '--json',
      ],
      { cwd: repoRoot, env: { XDG_CACHE_HOME: join(dir, 'cache-json') } },
    );
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as Record<string, unknown>;
    const index = JSON.parse(await fsp.readFile(join(EXAMPLE, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    const nested = JSON.parse(
      await fsp.readFile(join(EXAMPLE, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8'),
    ) as {
      manifests: {
        digest: string;
        platform: { architecture: string };
        annotations?: Record<string, string>;
      }[];
    };
    const entry = nested.manifests.find(
      (m) => m.annotations?.disktype === 'qemu' && m.platform.architecture === 'aarch64',
    )!;
    assert.equal(report.source, `oci-dir:${EXAMPLE}:latest`);
    assert.equal(report.manifestDigest, entry.digest);
    assert.equal(report.diskType, 'qemu');
    assert.deepEqual(report.platform, { os: 'linux', architecture: 'aarch64' });
    assert.equal(report.output, out);
    assert.equal(typeof report.blobDigest, 'string');
    assert.ok((await fsp.readFile(out)).equals(qcow2));
  });

  test('`npx ocipull` in a checkout runs this package (no registry involved)', async () => {
    const out = join(dir, 'npx.qcow2');
    const result = await sh(
      'npx',
      ['--offline', 'ocipull', 'pull', 'oci-dir:examples/machine-os:latest', '--preset', 'qemu', '-o', out],
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          XDG_CACHE_HOME: join(dir, 'cache-npx'),
          npm_config_cache: join(dir, 'npm-cache'),
          // The checkout is already built: do not run `prepare` (tsc) while other tests read dist/.
          npm_config_ignore_scripts: 'true',
          npm_config_update_notifier: 'false',
        },
      },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.ok((await fsp.readFile(out)).equals(qcow2));
  });
});
