import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWwwAuthenticate, pickChallenge } from './auth/challenge.js';

describe('parseWwwAuthenticate', () => {
  const cases: [string | string[], { scheme: string; params: Record<string, string> }[]][] = [
    [
      'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.example.com/token',
            service: 'registry.example.com',
            scope: 'repository:a/b:pull',
          },
        },
      ],
    ],
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    ['basic REALM=unquoted', [{ scheme: 'basic', params: { realm: 'unquoted' } }]],
    [
      'Bearer realm="x", error="insufficient_scope", scope="repository:a:pull,push"',
      [
        {
          scheme: 'bearer',
          params: { realm: 'x', error: 'insufficient_scope', scope: 'repository:a:pull,push' },
        },
      ],
    ],
    ['Bearer realm="a \\"quoted\\" realm"', [{ scheme: 'bearer', params: { realm: 'a "quoted" realm' } }]],
    [
      'Negotiate abc==, Basic realm="r"',
      [
        { scheme: 'negotiate', params: { token68: 'abc==' } },
        { scheme: 'basic', params: { realm: 'r' } },
      ],
    ],
    [
      'Basic realm="one", Bearer realm="two",service="s"',
      [
        { scheme: 'basic', params: { realm: 'one' } },
        { scheme: 'bearer', params: { realm: 'two', service: 's' } },
      ],
    ],
    [
      ['Basic realm="a"', 'Bearer realm="b"'],
      [
        { scheme: 'basic', params: { realm: 'a' } },
        { scheme: 'bearer', params: { realm: 'b' } },
      ],
    ],
    ['', []],
    ['Bearer', [{ scheme: 'bearer', params: {} }]],
  ];
  for (const [header, expected] of cases) {
    it(`parses ${JSON.stringify(header).slice(0, 70)}`, () => {
      assert.deepEqual(parseWwwAuthenticate(header), expected);
    });
  }
  it('prefers Bearer over Basic', () => {
    assert.equal(pickChallenge(parseWwwAuthenticate('Basic realm="a", Bearer realm="b"'))?.scheme, 'bearer');
    assert.equal(pickChallenge(parseWwwAuthenticate('Negotiate x'))?.scheme, undefined);
  });
});
