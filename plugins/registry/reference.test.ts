import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOcipullError } from 'ocipull';
import { formatReference, isLoopback, parseReference, withDefaultTag } from './reference.js';

const digest = `sha256:${'a'.repeat(64)}`;

// input → normalized registry/repository[:tag][@digest] (after the default tag `latest`)
const valid: [string, string][] = [
  ['ubuntu', 'docker.io/library/ubuntu:latest'],
  ['//ubuntu', 'docker.io/library/ubuntu:latest'],
  ['ubuntu:22.04', 'docker.io/library/ubuntu:22.04'],
  ['library/ubuntu', 'docker.io/library/ubuntu:latest'],
  ['docker.io/ubuntu', 'docker.io/library/ubuntu:latest'],
  ['index.docker.io/library/ubuntu:1', 'docker.io/library/ubuntu:1'],
  ['foo/bar', 'docker.io/foo/bar:latest'],
  ['quay.io/podman/machine-os:5.5', 'quay.io/podman/machine-os:5.5'],
  ['//quay.io/podman/machine-os:5.5', 'quay.io/podman/machine-os:5.5'],
  ['quay.io/podman/machine-os', 'quay.io/podman/machine-os:latest'],
  ['localhost/foo', 'localhost/foo:latest'],
  ['localhost:5000/foo/bar:v1', 'localhost:5000/foo/bar:v1'],
  ['127.0.0.1:5000/podman/machine-os:5.5', '127.0.0.1:5000/podman/machine-os:5.5'],
  ['[::1]:5000/foo', '[::1]:5000/foo:latest'],
  ['[fe80::1]/foo:tag', '[fe80::1]/foo:tag'],
  ['example.com/a/b/c/d:tag', 'example.com/a/b/c/d:tag'],
  ['Example.COM/foo', 'Example.COM/foo:latest'],
  ['my-registry.example.com:443/x', 'my-registry.example.com:443/x:latest'],
  ['registry/foo', 'docker.io/registry/foo:latest'],
  ['a.b/c__d/e--f/g.h/i_j', 'a.b/c__d/e--f/g.h/i_j:latest'],
  [`quay.io/podman/machine-os@${digest}`, `quay.io/podman/machine-os@${digest}`],
  [`quay.io/podman/machine-os:5.5@${digest}`, `quay.io/podman/machine-os:5.5@${digest}`],
  ['foo:_tag', 'docker.io/library/foo:_tag'],
  [`foo:${'t'.repeat(128)}`, `docker.io/library/foo:${'t'.repeat(128)}`],
  ['foo:A.b-C_d', 'docker.io/library/foo:A.b-C_d'],
  ['localhost:5000', 'docker.io/library/localhost:5000'],
  // an upper-case first component is a host name, as in distribution/reference
  ['UPPER/case', 'UPPER/case:latest'],
  // IPv6 literal hosts with a port
  ['[2001:db8::1]:5000/repo', '[2001:db8::1]:5000/repo:latest'],
  ['[2001:db8::1]:5000/a/b:v1', '[2001:db8::1]:5000/a/b:v1'],
  // 255 is the limit of the repository path alone (distribution's rule), not of host + path
  [`a.io/${'a'.repeat(255)}`, `a.io/${'a'.repeat(255)}:latest`],
  [
    `${'h'.repeat(60)}.example.com:5000/${'a'.repeat(250)}:t`,
    `${'h'.repeat(60)}.example.com:5000/${'a'.repeat(250)}:t`,
  ],
  [`x/${'a'.repeat(253)}`, `docker.io/x/${'a'.repeat(253)}:latest`],
];

const invalid: string[] = [
  '',
  '//',
  ':tag',
  '@sha256:abc',
  'docker.io/UPPER',
  'upper/Case',
  'quay.io/Podman/machine-os',
  'quay.io/podman/machine-os:',
  'quay.io/podman/machine-os:-tag',
  'quay.io/podman/machine-os:.tag',
  `quay.io/podman/machine-os:${'t'.repeat(129)}`,
  'quay.io/podman/machine-os:ta/g',
  'quay.io/podman/machine-os@sha256:short',
  `quay.io/podman/machine-os@md5:${'a'.repeat(64)}`,
  `quay.io/podman/machine-os@sha256:${'A'.repeat(64)}`,
  'quay.io//machine-os',
  'quay.io/podman/',
  'quay.io/-podman/x',
  'quay.io/podman_/x',
  'quay.io/po...dman/x',
  'quay.io/po___dman/x',
  '-host.io/x',
  'host-.io/x',
  'host.io:port/x',
  'with space/x',
  'quay.io/x y',
  `a.io/${'a'.repeat(256)}`,
  // `library/` counts: 248 characters become a 256-character path
  'a'.repeat(248),
  'a'.repeat(64),
  'foo@',
  'foo:tag@',
  'foo\n',
];

describe('parseReference', () => {
  for (const [input, expected] of valid) {
    it(`accepts ${JSON.stringify(input).slice(0, 60)}`, () => {
      assert.equal(formatReference(withDefaultTag(parseReference(input))), expected);
    });
  }
  for (const input of invalid) {
    it(`refuses ${JSON.stringify(input).slice(0, 60)}`, () => {
      assert.throws(
        () => parseReference(input),
        (error: unknown) => isOcipullError(error, 'REFERENCE_INVALID') && error.message.includes('invalid'),
      );
    });
  }
  it('measures 255 on the repository path after library/ is added', () => {
    parseReference('a'.repeat(247));
    assert.throws(
      () => parseReference('a'.repeat(248)),
      (e: unknown) =>
        isOcipullError(e, 'REFERENCE_INVALID') && /is 256 characters, more than 255/.test(e.message),
    );
  });
  it('cuts a very long input in messages', () => {
    assert.throws(
      () => parseReference(`quay.io/${'A'.repeat(100_000)}`),
      (e: unknown) => isOcipullError(e, 'REFERENCE_INVALID') && e.message.length < 600,
    );
  });
  it('refuses credentials typed into the reference without echoing them', () => {
    for (const input of [
      'user:s3cret-pw@quay.io/podman/machine-os:5.5',
      '//user:s3cret-pw@127.0.0.1:5000/x',
      'user:s3cret-pw@[::1]:5000/x@sha256:' + 'a'.repeat(64),
      'user:s3cret-pw@registry.example.com',
      's3cret-pw@localhost:5000/x',
    ]) {
      assert.throws(
        () => parseReference(input),
        (e: unknown) => {
          assert.ok(isOcipullError(e, 'REFERENCE_INVALID'), String(e));
          const text = `${e.message} ${e.hint ?? ''} ${JSON.stringify(e.data ?? {})}`;
          assert.doesNotMatch(text, /s3cret/, text);
          assert.doesNotMatch(text, /user:/, text);
          assert.match(e.message, /credentials/);
          assert.match(e.hint ?? '', /--creds/);
          assert.match(e.hint ?? '', /auth file/);
          return true;
        },
        input,
      );
    }
    // an `@` that starts a digest is not user information
    assert.equal(parseReference(`ubuntu@${digest}`).digest, digest);
    assert.equal(parseReference(`quay.io/a/b:1@${digest}`).digest, digest);
  });
  it('keeps the parts of an IPv6 host', () => {
    assert.deepEqual(parseReference('[2001:db8::1]:5000/repo:5.5'), {
      registry: '[2001:db8::1]:5000',
      repository: 'repo',
      tag: '5.5',
    });
  });
  it('keeps the parts', () => {
    assert.deepEqual(parseReference('//127.0.0.1:5000/podman/machine-os:5.5'), {
      registry: '127.0.0.1:5000',
      repository: 'podman/machine-os',
      tag: '5.5',
    });
  });
  it('applies a default tag only when neither tag nor digest is named', () => {
    assert.equal(withDefaultTag(parseReference('quay.io/a/b'), '5.5').tag, '5.5');
    assert.equal(withDefaultTag(parseReference('quay.io/a/b:1'), '5.5').tag, '1');
    assert.equal(withDefaultTag(parseReference(`quay.io/a/b@${digest}`), '5.5').tag, undefined);
  });
  it('knows loopback hosts', () => {
    for (const h of ['localhost:5000', '127.0.0.1:1', '127.1.2.3', '[::1]:5000'])
      assert.equal(isLoopback(h), true, h);
    for (const h of ['quay.io', '10.0.0.1:5000', 'localhost.example.com'])
      assert.equal(isLoopback(h), false, h);
  });
});
