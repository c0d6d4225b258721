import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isOcipullError } from 'ocipull';
import {
  endpointsFor,
  loadRegistriesConfFiles,
  parseRegistriesConf,
  parseToml,
  registriesConfFiles,
} from './mirrors.js';
import { parseReference, withDefaultTag } from './reference.js';

const CONF = `
# containers-registries.conf(5), version 2
unqualified-search-registries = ["registry.fedoraproject.org", 'quay.io',
  "docker.io"]  # trailing comment

[[registry]]
prefix = "quay.io/podman"
location = "quay.io/podman"
insecure = false

[[registry.mirror]]
location = "mirror.example:5000/pm"
insecure = true

[[registry.mirror]]
location = "digests.example"
pull-from-mirror = "digest-only"

[[registry]]
location = "blocked.example"
blocked = true

[[registry]]
prefix = "*.internal"
location = "proxy.example/internal"
[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
`;

const ref = (s: string) => withDefaultTag(parseReference(s));

describe('registries.conf and mirrors', () => {
  it('parses TOML', async () => {
    const doc = await parseToml(CONF, 'test.conf');
    assert.deepEqual(doc['unqualified-search-registries'], [
      'registry.fedoraproject.org',
      'quay.io',
      'docker.io',
    ]);
    assert.equal((doc.aliases as Record<string, string>).fedora, 'registry.fedoraproject.org/fedora');
    assert.equal((doc.registry as unknown[]).length, 3);
  });

  it('reads valid TOML the old subset refused: inline tables, inline arrays of tables, dates', async () => {
    const text = [
      'written = 2026-12-04T17:00:00Z',
      'day = 2026-12-04',
      'labels = { team = \'vm\', "tier" = 1 }',
      '[[registry]]',
      'prefix = "quay.io/podman"',
      'location = "quay.io/podman"',
      'mirror = [ { location = "inline-a.example:5000", insecure = true }, { location = "inline-b.example", pull-from-mirror = "digest-only" } ]',
      '[[registry]]',
      'location = "plain.example"',
      '[registry.extra]',
      'since = 1979-05-27T07:32:00-08:00',
      `"quoted.key" = """`,
      'multi',
      `line"""`,
      '',
    ].join('\n');
    const doc = await parseToml(text, 'v.conf');
    assert.equal((doc.day as Date).toISOString(), '2026-12-04');
    assert.equal((doc.written as Date).toISOString(), '2026-12-04T17:00:00.000Z');
    assert.deepEqual({ ...(doc.labels as object) }, { team: 'vm', tier: 1 });
    const conf = await parseRegistriesConf(text, 'v.conf');
    assert.deepEqual(
      conf.map((e) => [e.prefix, e.mirrors.map((m) => `${m.location} ${m.insecure} ${m.pullFromMirror}`)]),
      [
        ['quay.io/podman', ['inline-a.example:5000 true undefined', 'inline-b.example false digest-only']],
        ['plain.example', []],
      ],
    );
    assert.deepEqual(
      endpointsFor(ref('quay.io/podman/machine-os:5.5'), undefined, conf).map((e) => e.registry),
      ['inline-a.example:5000', 'quay.io'],
    );
  });

  it('reports a TOML syntax error as CONFIG_LOAD_FAILED with the file, line and column', async () => {
    const text =
      '[[registry]]\nprefix = "quay.io"\nlocation = "quay.io"\nmirror = [ { location = "m.example" \n';
    await assert.rejects(parseRegistriesConf(text, '/etc/containers/registries.conf'), (e: unknown) => {
      assert.ok(isOcipullError(e, 'CONFIG_LOAD_FAILED'), String(e));
      assert.match(e.message, /^\/etc\/containers\/registries\.conf:\d+:\d+: not valid TOML: /);
      const data = e.data as { line: number; file: string };
      assert.equal(data.file, '/etc/containers/registries.conf');
      assert.ok(data.line >= 4, String(data.line));
      assert.match(e.hint ?? '', /TOML/);
      return true;
    });
    await assert.rejects(parseToml('a = 1\nb = = 2\n', 'x.conf'), (e: unknown) => {
      assert.ok(isOcipullError(e, 'CONFIG_LOAD_FAILED'), String(e));
      assert.match(e.message, /^x\.conf:2:\d+: not valid TOML/);
      assert.match(e.hint ?? '', /line 2 reads "b = = 2"/);
      return true;
    });
    // A duplicate key is invalid TOML too (the subset kept the last value).
    await assert.rejects(parseToml('a = 1\na = 2\n', 'dup.conf'), (e: unknown) =>
      isOcipullError(e, 'CONFIG_LOAD_FAILED'),
    );
    await assert.rejects(
      parseRegistriesConf('[registry]\nlocation = "x.example"\n', 'one.conf'),
      (e: unknown) => isOcipullError(e, 'CONFIG_LOAD_FAILED') && /\[\[registry\]\]/.test(e.message),
    );
  });

  it('puts registries.conf mirrors before the origin, rewriting the prefix', async () => {
    const conf = await parseRegistriesConf(CONF, 'test.conf');
    const list = endpointsFor(ref('quay.io/podman/machine-os:5.5'), undefined, conf);
    assert.deepEqual(list, [
      { registry: 'mirror.example:5000', repository: 'pm/machine-os', mirror: true, insecure: true },
      { registry: 'quay.io', repository: 'podman/machine-os', mirror: false, insecure: false },
    ]);
    const byDigest = endpointsFor(ref(`quay.io/podman/machine-os@sha256:${'b'.repeat(64)}`), undefined, conf);
    assert.deepEqual(
      byDigest.map((e) => e.registry),
      ['mirror.example:5000', 'digests.example', 'quay.io'],
    );
  });

  it('puts config mirrors first and keeps other registries alone', async () => {
    const conf = await parseRegistriesConf(CONF, 'test.conf');
    const list = endpointsFor(
      ref('quay.io/podman/machine-os:5.5'),
      { 'quay.io': ['cfg.example:5000'] },
      conf,
    );
    assert.deepEqual(
      list.map((e) => `${e.registry}/${e.repository}`),
      [
        'cfg.example:5000/podman/machine-os',
        'mirror.example:5000/pm/machine-os',
        'quay.io/podman/machine-os',
      ],
    );
    assert.deepEqual(
      endpointsFor(ref('docker.io/library/ubuntu'), { 'quay.io': ['x'] }, conf).map((e) => e.registry),
      ['docker.io'],
    );
  });

  it('applies location rewrites, wildcards and blocks', async () => {
    const conf = await parseRegistriesConf(CONF, 'test.conf');
    assert.deepEqual(endpointsFor(ref('git.internal/team/app:1'), undefined, conf), [
      { registry: 'proxy.example', repository: 'internal/team/app', mirror: false, insecure: false },
    ]);
    assert.throws(
      () => endpointsFor(ref('blocked.example/x'), undefined, conf),
      (e) => isOcipullError(e, 'DENIED'),
    );
  });

  it('reads registries.conf.d drop-ins after the main file; a later prefix replaces an earlier one', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ocipull-regconf-'));
    try {
      const system = join(root, 'etc');
      const home = join(root, 'home');
      mkdirSync(join(system, 'registries.conf.d'), { recursive: true });
      mkdirSync(join(home, 'containers', 'registries.conf.d'), { recursive: true });
      writeFileSync(join(system, 'registries.conf'), CONF);
      writeFileSync(
        join(system, 'registries.conf.d', '10-quay.conf'),
        '[[registry]]\nprefix = "quay.io/podman"\nlocation = "quay.io/podman"\n[[registry.mirror]]\nlocation = "dropin.example"\n',
      );
      writeFileSync(join(system, 'registries.conf.d', 'README'), 'not a drop-in');
      writeFileSync(
        join(home, 'containers', 'registries.conf.d', '50-extra.conf'),
        '[[registry]]\nlocation = "extra.example"\nblocked = true\n',
      );
      const env = { XDG_CONFIG_HOME: home };
      // No main file of the user's: the system one is read, then the drop-ins in order.
      const files = registriesConfFiles(undefined, env, system);
      assert.deepEqual(files, [
        join(system, 'registries.conf'),
        join(system, 'registries.conf.d', '10-quay.conf'),
        join(home, 'containers', 'registries.conf.d', '50-extra.conf'),
      ]);
      const conf = await loadRegistriesConfFiles(files);
      const quay = conf.filter((e) => e.prefix === 'quay.io/podman');
      assert.equal(quay.length, 1);
      assert.deepEqual(
        quay[0]!.mirrors.map((m) => m.location),
        ['dropin.example'],
        'the drop-in replaced the main entry',
      );
      assert.ok(conf.some((e) => e.prefix === 'blocked.example' && e.blocked));
      assert.ok(conf.some((e) => e.prefix === 'extra.example' && e.blocked));
      // An explicit file is read alone.
      assert.deepEqual(registriesConfFiles(join(system, 'registries.conf'), env, system), [
        join(system, 'registries.conf'),
      ]);
      assert.deepEqual(registriesConfFiles(false, env, system), []);
      // A found file that does not parse is skipped when asked to, and fails the run otherwise.
      writeFileSync(join(system, 'registries.conf.d', '20-broken.conf'), '[[registry]\nprefix = \n');
      const broken = registriesConfFiles(undefined, env, system);
      const skipped: string[] = [];
      const kept = await loadRegistriesConfFiles(broken, (_e, file) => skipped.push(file));
      assert.deepEqual(skipped, [join(system, 'registries.conf.d', '20-broken.conf')]);
      assert.ok(
        kept.some((e) => e.prefix === 'extra.example'),
        'the files after it are still read',
      );
      await assert.rejects(loadRegistriesConfFiles(broken), (e) => isOcipullError(e, 'CONFIG_LOAD_FAILED'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
