/**
 * scripts/ensure-packages.mjs, the check test/run.js and .ci/run make before any test: the package
 * query, the root check and the installer are injected, so no package of this machine is touched.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../support/paths.js';

interface Outcome {
  ok: boolean;
  missing: string[];
  installed: string[];
  message: string;
}
interface Options {
  names?: string[];
  query?: (names: string[]) => Map<string, boolean>;
  isRoot?: boolean;
  install?: (missing: string[]) => string | undefined;
}
const { ensurePackages, parsePackageList, PACKAGE_LIST } = (await import(
  pathToFileURL(join(repoRoot, 'scripts', 'ensure-packages.mjs')).href
)) as {
  ensurePackages(options: Options): Outcome;
  parsePackageList(text: string): string[];
  PACKAGE_LIST: string;
};

/** A package database holding `present`; every query is recorded. */
function database(present: string[]) {
  const have = new Set(present);
  const queries: string[][] = [];
  return {
    queries,
    have,
    query: (names: string[]) => {
      queries.push(names);
      return new Map(names.map((n) => [n, have.has(n)]));
    },
  };
}

describe('ensure-packages: the Debian packages the tests need', () => {
  it('the one list (.ci/apt-packages) names the tools the suites run', () => {
    assert.equal(PACKAGE_LIST, join(repoRoot, '.ci', 'apt-packages'));
    const names = parsePackageList(readFileSync(PACKAGE_LIST, 'utf8'));
    for (const tool of [
      'docker-registry',
      'skopeo',
      'umoci',
      'qemu-utils',
      'zstd',
      'apache2-utils',
      'openssl',
    ])
      assert.ok(names.includes(tool), tool);
    assert.ok(
      names.every((n) => /^[a-z0-9][a-z0-9.+-]+$/.test(n)),
      names.join(' '),
    );
    assert.deepEqual(parsePackageList('# c\n a \n\nb # why\n'), ['a', 'b']);
  });

  it('all present: ok, nothing installed', () => {
    const db = database(['a', 'b']);
    const installs: string[][] = [];
    const out = ensurePackages({
      names: ['a', 'b'],
      query: db.query,
      isRoot: true,
      install: (m) => void installs.push(m),
    });
    assert.deepEqual(out, { ok: true, missing: [], installed: [], message: '' });
    assert.deepEqual(installs, []);
  });

  it('not root and some missing: stops, naming the exact apt-get line, and installs nothing', () => {
    const db = database(['docker-registry', 'zstd']);
    const installs: string[][] = [];
    const out = ensurePackages({
      names: ['docker-registry', 'skopeo', 'zstd', 'umoci'],
      query: db.query,
      isRoot: false,
      install: (m) => void installs.push(m),
    });
    assert.equal(out.ok, false);
    assert.deepEqual(out.missing, ['skopeo', 'umoci']);
    assert.deepEqual(installs, [], 'never tries to install without root');
    const lines = out.message.split('\n');
    assert.match(lines[0]!, /not installed: skopeo, umoci\.$/);
    assert.equal(lines.at(-1), '  apt-get install -y --no-install-recommends skopeo umoci');
  });

  it('root and some missing: installs exactly those, checks again, reports them', () => {
    const db = database(['a']);
    const installs: string[][] = [];
    const out = ensurePackages({
      names: ['a', 'b', 'c'],
      query: db.query,
      isRoot: true,
      install: (m) => {
        installs.push(m);
        for (const n of m) db.have.add(n);
        return undefined;
      },
    });
    assert.deepEqual(installs, [['b', 'c']]);
    assert.deepEqual(out, { ok: true, missing: [], installed: ['b', 'c'], message: '' });
    assert.deepEqual(db.queries.at(-1), ['b', 'c'], 'checked again after installing');
  });

  it('root and the install fails or leaves one out: stops with the reason and the line', () => {
    const failing = ensurePackages({
      names: ['a', 'b'],
      query: database(['a']).query,
      isRoot: true,
      install: () => 'apt-get update -qq failed (exit 100): no network',
    });
    assert.equal(failing.ok, false);
    assert.match(failing.message, /no network/);
    assert.match(failing.message, /apt-get install -y --no-install-recommends b$/);
    const db = database([]);
    const partial = ensurePackages({
      names: ['a', 'b'],
      query: db.query,
      isRoot: true,
      install: () => {
        db.have.add('a');
        return undefined;
      },
    });
    assert.equal(partial.ok, false);
    assert.deepEqual(partial.missing, ['b']);
    assert.deepEqual(partial.installed, ['a']);
    assert.match(partial.message, /b still missing/);
  });
});
