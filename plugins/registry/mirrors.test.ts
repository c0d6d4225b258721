import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOcipullError } from 'ocipull';
import { endpointsFor, parseRegistriesConf } from './mirrors.js';
import { parseReference, withDefaultTag } from './reference.js';
import { parseToml } from './toml.js';

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
  it('parses the TOML subset', () => {
    const doc = parseToml(CONF, 'test.conf');
    assert.deepEqual(doc['unqualified-search-registries'], [
      'registry.fedoraproject.org',
      'quay.io',
      'docker.io',
    ]);
    assert.equal((doc.aliases as Record<string, string>).fedora, 'registry.fedoraproject.org/fedora');
    assert.equal((doc.registry as unknown[]).length, 3);
    assert.throws(
      () => parseToml('a = {b = 1}', 'x.conf'),
      (e) => isOcipullError(e, 'CONFIG_LOAD_FAILED') && e.message.startsWith('x.conf:1'),
    );
  });

  it('puts registries.conf mirrors before the origin, rewriting the prefix', () => {
    const conf = parseRegistriesConf(CONF, 'test.conf');
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

  it('puts config mirrors first and keeps other registries alone', () => {
    const conf = parseRegistriesConf(CONF, 'test.conf');
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

  it('applies location rewrites, wildcards and blocks', () => {
    const conf = parseRegistriesConf(CONF, 'test.conf');
    assert.deepEqual(endpointsFor(ref('git.internal/team/app:1'), undefined, conf), [
      { registry: 'proxy.example', repository: 'internal/team/app', mirror: false, insecure: false },
    ]);
    assert.throws(
      () => endpointsFor(ref('blocked.example/x'), undefined, conf),
      (e) => isOcipullError(e, 'DENIED'),
    );
  });
});
