/**
 * A library user's install: the package as `npm pack` builds it, installed into a new project
 * with npm, imported by name from an ESM script that pulls the shipped example through
 * `createOrchestrator`. The disk must be the CLI's, byte for byte, and a qcow2 qemu-img accepts.
 *
 * No network: npm runs `--offline`. The machine's npm cache does not hold every dependency, so the
 * project's node_modules starts as a copy of the repository's runtime packages and the tarball is
 * installed over it with `--no-save --ignore-scripts` (a copy, not symlinks: npm prunes what it does
 * not expect, and through a symlinked scope directory that would reach the repository's own).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { run } from '../support/disks.js';
import { repoRoot, tempDir } from '../support/paths.js';

const EXAMPLE = join(repoRoot, 'examples', 'machine-os');
const SOURCE = `oci-dir:${EXAMPLE}:latest`;
/** Development-only packages the installed library never loads (and the package itself). */
const NOT_COPIED = new Set(['.bin', '.package-lock.json', '@biomejs', 'typescript', 'fast-check', 'ocipull']);

function sh(
  command: string,
  args: string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: {
        ...process.env,
        npm_config_update_notifier: 'false',
        npm_config_fund: 'false',
        npm_config_audit: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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

const SCRIPT = `import { createOrchestrator } from 'ocipull';

const [source, output, cacheDir] = process.argv.slice(2);
const ocipull = await createOrchestrator({ preset: 'qemu', arch: 'amd64', cacheDir, logLevel: 'silent' });
const result = await ocipull.pull({ source, output });
console.log(JSON.stringify({ resolved: import.meta.resolve('ocipull'), result }));
`;

describe('the npm package, installed into a project, pulls through createOrchestrator', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let project: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('ocipull-npm-pack-'));
    project = join(dir, 'project');
    await fsp.mkdir(join(project, 'node_modules'), { recursive: true });
  });
  after(() => cleanup());

  test('npm pack, npm install --offline of the tarball, an ESM import by name, a pull equal to the CLI’s', async () => {
    const packed = await sh('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], repoRoot);
    assert.equal(packed.code, 0, packed.stderr);
    const tarball = join(dir, packed.stdout.trim().split('\n').pop()!);
    assert.match(tarball, /ocipull-[\d.]+\.tgz$/);

    await fsp.writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'library-user', version: '1.0.0', private: true, type: 'module' }),
    );
    for (const name of await fsp.readdir(join(repoRoot, 'node_modules'))) {
      if (NOT_COPIED.has(name)) continue;
      await fsp.cp(join(repoRoot, 'node_modules', name), join(project, 'node_modules', name), {
        recursive: true,
        verbatimSymlinks: true,
      });
    }
    const installed = await sh(
      'npm',
      ['install', '--offline', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', tarball],
      project,
    );
    assert.equal(installed.code, 0, installed.stderr);
    const manifest = JSON.parse(
      await fsp.readFile(join(project, 'node_modules', 'ocipull', 'package.json'), 'utf8'),
    );
    assert.equal(manifest.name, 'ocipull');
    // The installed package is a real directory from the tarball, not a link to the repository.
    assert.ok(!(await fsp.lstat(join(project, 'node_modules', 'ocipull'))).isSymbolicLink());

    await fsp.writeFile(join(project, 'pull.mjs'), SCRIPT);
    const output = join(dir, 'library.qcow2');
    const pulled = await sh(process.execPath, ['pull.mjs', SOURCE, output, join(dir, 'cache-lib')], project);
    assert.equal(pulled.code, 0, pulled.stderr);
    const { resolved, result } = JSON.parse(pulled.stdout) as {
      resolved: string;
      result: { output: string; diskType: string; platform: { os: string; architecture: string } };
    };
    const from = relative(project, new URL(resolved).pathname);
    assert.ok(from.startsWith(join('node_modules', 'ocipull')), `ocipull resolved from ${from}`);
    assert.equal(result.output, output);
    assert.equal(result.diskType, 'qemu');
    assert.deepEqual(result.platform, { os: 'linux', architecture: 'x86_64' });

    const cliOutput = join(dir, 'cli.qcow2');
    const cli = await runCli(
      [
        'pull',
        SOURCE,
        '--preset',
        'qemu',
        '--arch',
        'amd64',
        '--cache-dir',
        join(dir, 'cache-cli'),
        '-o',
        cliOutput,
      ],
      { cwd: dir },
    );
    assert.equal(cli.code, 0, cli.stderr);
    assert.ok(
      (await fsp.readFile(output)).equals(await fsp.readFile(cliOutput)),
      'the same bytes as the CLI',
    );
    const info = JSON.parse(await run('qemu-img', ['info', '--output=json', output])) as Record<
      string,
      unknown
    >;
    assert.equal(info.format, 'qcow2');
  });
});
