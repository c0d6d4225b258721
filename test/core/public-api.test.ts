import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/paths.js';

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(full)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

describe('built-in plugins use only the public API', () => {
  it('no plugin source imports from core/ by relative path', async () => {
    const offenders: string[] = [];
    for (const file of await sources(join(repoRoot, 'plugins'))) {
      const text = await readFile(file, 'utf8');
      for (const match of text.matchAll(/from\s+['"]([^'"]+)['"]/g)) {
        const spec = match[1]!;
        if (/(^|\/)core(\/|$)/.test(spec) || spec.startsWith('../../'))
          offenders.push(`${relative(repoRoot, file)}: ${spec}`);
      }
    }
    assert.deepEqual(offenders, []);
  });

  it('each plugin folder has an index.ts exporting a default plugin', async () => {
    const folders = (await readdir(join(repoRoot, 'plugins'), { withFileTypes: true })).filter((d) =>
      d.isDirectory(),
    );
    assert.ok(folders.length > 0);
    for (const folder of folders) {
      const text = await readFile(join(repoRoot, 'plugins', folder.name, 'index.ts'), 'utf8');
      assert.match(text, /export default/, folder.name);
      assert.match(
        text,
        new RegExp(`ocipull-plugin-${folder.name}`),
        `${folder.name} names itself ocipull-plugin-${folder.name}`,
      );
    }
  });
});

describe('the CLI is a face over the library', () => {
  it('no core/cli file imports anything but the public entry, node: modules, npm packages and core/cli itself', async () => {
    const cli = join(repoRoot, 'core', 'cli');
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const packages = new Set(Object.keys(pkg.dependencies));
    const offenders: string[] = [];
    const files = await sources(cli);
    assert.ok(files.length >= 5, 'the CLI sources are found');
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      const specs = [
        // static imports and re-exports, also over several lines
        ...text.matchAll(/^\s*(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm),
        // side-effect imports and dynamic import()
        ...text.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
        ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
      ].map((m) => m[1]!);
      for (const spec of specs) {
        const inside = spec.startsWith('.') && !relative(cli, resolve(dirname(file), spec)).startsWith('..');
        const allowed =
          spec === 'ocipull' ||
          spec.startsWith('node:') ||
          builtinModules.includes(spec) ||
          packages.has(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!) ||
          inside;
        if (!allowed) offenders.push(`${relative(repoRoot, file)}: ${spec}`);
      }
    }
    assert.deepEqual(offenders, []);
  });
});
