import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { displayProxy, proxyFor } from './proxy.js';

const p = (url: string, env: Record<string, string>) => proxyFor(new URL(url), env)?.href;

describe('proxyFor (the HTTP(S)_PROXY / NO_PROXY rule)', () => {
  it('picks HTTPS_PROXY for https:, else HTTP_PROXY; lower case first', () => {
    assert.equal(
      p('https://quay.io/v2/', { HTTPS_PROXY: 'http://s:1', HTTP_PROXY: 'http://h:2' }),
      'http://s:1/',
    );
    assert.equal(p('https://quay.io/v2/', { HTTP_PROXY: 'http://h:2' }), 'http://h:2/');
    assert.equal(p('http://quay.io/v2/', { HTTPS_PROXY: 'http://s:1' }), undefined);
    assert.equal(
      p('https://quay.io/', { https_proxy: 'http://low:1', HTTPS_PROXY: 'http://up:2' }),
      'http://low:1/',
    );
    assert.equal(p('https://quay.io/', { https_proxy: '', HTTPS_PROXY: 'http://up:2' }), undefined);
    assert.equal(p('https://quay.io/', { HTTPS_PROXY: 'proxy.corp:3128' }), 'http://proxy.corp:3128/');
  });
  it('honours NO_PROXY: hosts, subdomains, ports and *', () => {
    const env = { HTTPS_PROXY: 'http://s:1', NO_PROXY: 'internal.example, .corp.example,mirror:5000' };
    assert.equal(p('https://internal.example/', env), undefined);
    assert.equal(p('https://a.internal.example/', env), undefined);
    assert.equal(p('https://x.corp.example/', env), undefined);
    assert.equal(p('https://mirror:5000/', env), undefined);
    assert.equal(p('https://mirror:6000/', env), 'http://s:1/');
    assert.equal(p('https://quay.io/', env), 'http://s:1/');
    assert.equal(p('https://quay.io/', { ...env, no_proxy: '*' }), undefined);
  });
  it('never shows the proxy credentials', () => {
    assert.equal(displayProxy(new URL('http://user:secret@proxy:3128')), 'http://proxy:3128');
  });
});
