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

/**
 * The runtime exports of the public entry: what plugins (built-in and third-party) and library
 * users need, nothing the CLI alone wants. A change here is a change of the public API: say so
 * in docs/plugins.md and docs/library.md.
 */
const PUBLIC_RUNTIME_EXPORTS = [
  'Annotations',
  'BackgroundFlush',
  'CODES',
  'DEFAULT_SETTINGS',
  'DISK_HEAD_BYTES',
  'EMPTY_DESCRIPTOR',
  'EXIT',
  'HYPERVISOR_FORMATS',
  'LayoutStore',
  'MANIFEST_ACCEPT',
  'MAX_DOCUMENT_BYTES',
  'MAX_INDEX_ENTRIES',
  'MediaTypes',
  'Ocipull',
  'OcipullError',
  'Orchestrator',
  'OutputFile',
  'builtinCodecs',
  'byteCounter',
  'checkDiskFormat',
  'checkLayoutVersion',
  'checkTag',
  'checkTitle',
  'codecsOf',
  'createExclusive',
  'createLogger',
  'createOrchestrator',
  'decodeError',
  'decodeInProcess',
  'decodeInWorker',
  'decodeWithChild',
  'decodedHead',
  'decoderCommand',
  'decoderStream',
  'defaultTitle',
  'describeNoSpace',
  'digestOf',
  'diskFormat',
  'exitCodeFor',
  'expansionError',
  'findExecutable',
  'formatSize',
  'parseSize',
  'isAbortError',
  'isDigest',
  'isIndexMediaType',
  'isManifestMediaType',
  'isOcipullError',
  'isTarLayerMediaType',
  'layerMediaType',
  'layoutBlobPath',
  'layoutTags',
  'mergeIndex',
  'nameFormat',
  'normalizeArch',
  'openLayoutFile',
  'parseDigest',
  'parseDocument',
  'parseSourceRef',
  'peek',
  'platformKey',
  'printable',
  'readAll',
  'readLayoutFile',
  'readLayoutIndex',
  'redactSecrets',
  'refName',
  'renameReplacing',
  'runCopy',
  'runPack',
  'sameArch',
  'secretsInArguments',
  'spaceErrno',
  'suggestion',
  'tempName',
  'titleExtension',
  'toOcipullError',
  'trackInput',
  'urlForMessages',
  'workerDecoder',
  'wrapPluginError',
];

describe('the public surface', () => {
  it('exports exactly the listed runtime names', async () => {
    const entry = (await import('ocipull')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(entry).sort(), [...PUBLIC_RUNTIME_EXPORTS].sort());
  });

  it('every runtime export is used by a plugin, a library caller (the CLI, a test) or is the library itself', async () => {
    const users: string[] = [];
    for (const dir of ['plugins', 'test', join('core', 'cli')]) {
      users.push(...(await sources(join(repoRoot, dir))), ...(await allTests(join(repoRoot, dir))));
    }
    users.push(...(await allTests(join(repoRoot, 'core'))));
    const used = new Set<string>();
    for (const file of users) {
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*'ocipull'/g)) {
        for (const name of m[1]!.split(','))
          used.add(
            name
              .trim()
              .replace(/^type\s+/, '')
              .split(/\s+as\s+/)[0]!,
          );
      }
    }
    assert.deepEqual(
      PUBLIC_RUNTIME_EXPORTS.filter((name) => !used.has(name)),
      [],
    );
  });
});

async function allTests(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await allTests(full)));
    else if (entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}
