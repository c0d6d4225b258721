import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isOcipullError } from 'ocipull';
import { expandPresets, PRESET_DIR } from '../../core/config/presets.js';
import { applyDefaults, normalizeConfig, resolveConfig } from '../../core/config/resolve.js';
import { validatePreset } from '../../core/config/schema.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/paths.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => {
  ({ dir, cleanup } = await tempDir('ocipull-config-'));
});
after(() => cleanup());

async function project(name: string, files: Record<string, string>): Promise<string> {
  const root = join(dir, name);
  await mkdir(root, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    await mkdir(join(root, file, '..'), { recursive: true });
    await writeFile(join(root, file), text);
  }
  return root;
}

const emptyPreset = JSON.stringify({ plugins: [], settings: {} });

describe('config: load → validate → normalise → defaults', () => {
  it('finds each cosmiconfig place', async () => {
    const cases: Record<string, string> = {
      'package.json': JSON.stringify({ name: 'x', ocipull: { preset: './p.json', machineName: 'from-pkg' } }),
      '.ocipullrc': '{"preset": "./p.json", "machineName": "from-rc"}',
      '.ocipullrc.yaml': 'preset: ./p.json\nmachineName: from-yaml\n',
      '.ocipullrc.json': '{"preset": "./p.json", "machineName": "from-rc-json"}',
      '.ocipullrc.cjs': 'module.exports = { preset: "./p.json", machineName: "from-cjs" };',
      'ocipull.config.mjs': 'export default { preset: "./p.json", machineName: "from-mjs" };',
      'ocipull.config.json': '{"preset": "./p.json", "machineName": "from-config-json"}',
    };
    for (const [file, text] of Object.entries(cases)) {
      const root = await project(`place-${file}`, { [file]: text, 'p.json': emptyPreset });
      const resolved = await resolveConfig({ cwd: root });
      assert.equal(resolved.file, join(root, file), file);
      assert.match(resolved.settings.machineName, /^from-/, file);
    }
  });

  it('--config overrides discovery', async () => {
    const root = await project('explicit', {
      '.ocipullrc.json': '{"preset": "./p.json", "machineName": "found"}',
      'other.json': '{"preset": "./p.json", "machineName": "named"}',
      'p.json': emptyPreset,
    });
    const resolved = await resolveConfig({ cwd: root, configPath: 'other.json' });
    assert.equal(resolved.settings.machineName, 'named');
  });

  it('a misspelt key names the file, the key path and a did-you-mean', async () => {
    const root = await project('typo', {
      '.ocipullrc.json': '{"cache": {"polcy": "lru"}, "insecureRegistry": []}',
    });
    await assert.rejects(resolveConfig({ cwd: root }), (e: unknown) => {
      assert.ok(isOcipullError(e, 'CONFIG_INVALID'));
      assert.match(e.message, /\.ocipullrc\.json/);
      assert.match(e.message, /cache\.polcy: unknown key "polcy" \(did you mean "policy"\?/);
      assert.match(e.message, /insecureRegistry: unknown key .*did you mean "insecureRegistries"/);
      return true;
    });
  });

  it('a misspelt key exits non-zero from the CLI with file, key and hint', async () => {
    const root = await project('typo-cli', { '.ocipullrc.json': '{"presett": "qemu"}' });
    const result = await runCli(['config'], { cwd: root });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /CONFIG_INVALID/);
    assert.match(result.stderr, /\.ocipullrc\.json/);
    assert.match(result.stderr, /presett: unknown key "presett" \(did you mean "preset"\?/);
  });

  it('a wrong value lists what is accepted', async () => {
    const root = await project('enum', { '.ocipullrc.json': '{"progress": "fancy"}' });
    await assert.rejects(resolveConfig({ cwd: root }), (e: unknown) => {
      assert.ok(isOcipullError(e, 'CONFIG_INVALID'));
      assert.match(e.message, /progress: .*accepted: "auto", "plain", "json", "none"/);
      return true;
    });
  });

  it('unparseable config is CONFIG_LOAD_FAILED; a missing --config too', async () => {
    const root = await project('broken', { '.ocipullrc.json': '{ not json' });
    await assert.rejects(resolveConfig({ cwd: root }), (e: unknown) =>
      isOcipullError(e, 'CONFIG_LOAD_FAILED'),
    );
    await assert.rejects(resolveConfig({ cwd: root, configPath: 'nope.json' }), (e: unknown) =>
      isOcipullError(e, 'CONFIG_LOAD_FAILED'),
    );
  });

  it('layers defaults < presets in order < config < flags', async () => {
    const root = await project('layers', {
      '.ocipullrc.json': JSON.stringify({
        preset: ['./a.json', './b.json'],
        format: 'from-config',
        cacheDir: '/c',
      }),
      'a.json': JSON.stringify({ settings: { diskType: 'a', format: 'a', sparse: true, outputName: 'a' } }),
      'b.json': JSON.stringify({ settings: { diskType: 'b', outputName: 'b' } }),
    });
    const normalized = await normalizeConfig({ cwd: root });
    const resolved = applyDefaults(normalized, { diskType: 'from-flag' });
    assert.equal(resolved.settings.diskType, 'from-flag');
    assert.equal(resolved.settings.format, 'from-config');
    assert.equal(resolved.settings.outputName, 'b');
    assert.equal(resolved.settings.sparse, true);
    assert.equal(resolved.settings.cacheDir, '/c');
    assert.equal(resolved.settings.os, 'linux');
    assert.equal(resolved.settings.transport.tlsVerify, true);
    assert.equal(applyDefaults(normalized, { tlsVerify: false }).settings.transport.tlsVerify, false);
  });
});

describe('presets', () => {
  it('expand extends first, in the order written, each once', async () => {
    const root = await project('extends', {
      'base.json': JSON.stringify({ plugins: ['./one.js'], settings: { format: 'base' } }),
      'mid.json': JSON.stringify({ extends: './base.json', plugins: [['./two.js', { x: 1 }]] }),
      'top.json': JSON.stringify({
        extends: ['./base.json', './mid.json'],
        plugins: [['./one.js', { again: true }]],
      }),
    });
    const presets = await expandPresets(['./top.json'], root);
    assert.deepEqual(
      presets.map((p) => p.name),
      ['./base.json', './mid.json', './top.json'],
    );
    const normalized = await normalizeConfig({ cwd: root, preset: './top.json' });
    assert.deepEqual(
      normalized.plugins.map((p) => [p.name, p.options]),
      [
        ['./one.js', { again: true }],
        ['./two.js', { x: 1 }],
      ],
    );
  });

  it('a cycle is PRESET_CYCLE, an unknown name PRESET_NOT_FOUND with a hint', async () => {
    const root = await project('cycle', {
      'a.json': JSON.stringify({ extends: './b.json' }),
      'b.json': JSON.stringify({ extends: './a.json' }),
    });
    await assert.rejects(expandPresets(['./a.json'], root), (e: unknown) =>
      isOcipullError(e, 'PRESET_CYCLE'),
    );
    await assert.rejects(expandPresets(['qemuu'], root), (e: unknown) => {
      assert.ok(isOcipullError(e, 'PRESET_NOT_FOUND'));
      assert.match(e.hint ?? '', /did you mean "qemu"/);
      return true;
    });
  });

  it('built-in presets validate and set their disk type', async () => {
    // sparse unset: decided by the selected disk's format (holes for raw only).
    const expected: Record<string, [string, string, boolean | undefined]> = {
      qemu: ['qemu', 'qcow2', undefined],
      applehv: ['applehv', 'raw', true],
      libkrun: ['applehv', 'raw', true],
      hyperv: ['hyperv', 'vhdx', undefined],
      wsl: ['wsl', 'tar', undefined],
    };
    for (const name of ['base', ...Object.keys(expected)]) {
      // Built-in presets are not checked on every run: this is where they are.
      const file = join(PRESET_DIR, `${name}.json`);
      await validatePreset(JSON.parse(await readFile(file, 'utf8')), file);
    }
    for (const [name, [diskType, format, sparse]] of Object.entries(expected)) {
      const resolved = applyDefaults(await normalizeConfig({ cwd: dir, preset: name }));
      assert.equal(resolved.settings.diskType, diskType, name);
      assert.equal(resolved.settings.format, format, name);
      assert.equal(resolved.settings.sparse, sparse, name);
      assert.ok(
        resolved.plugins.some((p) => p.name === 'disk-select'),
        name,
      );
    }
  });
});
