/**
 * Certificates and proxies, against real servers on 127.0.0.1: a registry whose certificate does
 * not verify is reported as TLS with the reason and how to trust it, never "fixed" by a fallback
 * to plain HTTP; a proxy that refuses CONNECT is a PROXY error naming the proxy and its status,
 * never an interruption.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, connect, createServer as createTcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { createLogger, isOcipullError } from 'ocipull';
import { ran } from '../../test/reliability/figures.js';
import { runCli } from '../../test/support/cli.js';
import { tempDir } from '../../test/support/paths.js';
import { RegistryClient } from './client.js';
import { HttpClient } from './http.js';
import { defaultRetryPolicy } from './retry.js';
import { TlsPolicy } from './tls.js';

const log = createLogger('silent');
const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: 'pipe' });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Key and certificate files made by openssl in `dir`. */
interface Pair {
  key: string;
  cert: string;
}

function selfSigned(dir: string, name: string, san: string): Pair {
  openssl(
    ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${name}`].concat([
      '-addext',
      `subjectAltName=${san}`,
      '-days',
      '2',
    ]),
    dir,
  );
  return { key: join(dir, `${name}.key`), cert: join(dir, `${name}.crt`) };
}

/** A CA, and a leaf for 127.0.0.1 it signed. */
function caAndLeaf(dir: string): { ca: Pair; leaf: Pair } {
  openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-subj',
      '/CN=test CA',
      '-days',
      '2',
    ].concat(['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']),
    dir,
  );
  openssl(['req', '-new', ...EC, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(join(dir, 'leaf.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    ['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
      '-out',
      'leaf.crt',
      '-days',
      '2',
      '-extfile',
      'leaf.ext',
    ]),
    dir,
  );
  return {
    ca: { key: join(dir, 'ca.key'), cert: join(dir, 'ca.crt') },
    leaf: { key: join(dir, 'leaf.key'), cert: join(dir, 'leaf.crt') },
  };
}

/** A self-signed certificate for 127.0.0.1 that expired in 2020 (`openssl ca` sets the dates). */
function expired(dir: string): Pair {
  const ca = join(dir, 'expired-ca');
  mkdirSync(ca);
  writeFileSync(join(ca, 'index.txt'), '');
  writeFileSync(join(ca, 'serial'), '01\n');
  writeFileSync(
    join(ca, 'ca.cnf'),
    '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\nunique_subject = no\n[p]\ncommonName = supplied\n',
  );
  openssl(
    ['req', '-new', ...EC, '-keyout', 'e.key', '-out', 'e.csr', '-subj', '/CN=127.0.0.1'].concat([
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]),
    ca,
  );
  openssl(
    [
      'ca',
      '-batch',
      '-config',
      'ca.cnf',
      '-selfsign',
      '-keyfile',
      'e.key',
      '-in',
      'e.csr',
      '-out',
      'e.crt',
    ].concat(['-startdate', '20200101000000Z', '-enddate', '20200102000000Z']),
    ca,
  );
  return { key: join(ca, 'e.key'), cert: join(ca, 'e.crt') };
}

/**
 * An HTTPS registry stub that answers plain HTTP on the same port with 400, as Go's TLS servers
 * (the distribution registry) do: a fallback to plain HTTP gets "400 Bad Request".
 */
async function tlsRegistry(pair: Pair) {
  const https = createHttpsServer(
    { key: readFileSync(pair.key), cert: readFileSync(pair.cert) },
    (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'),
  );
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  const httpsPort = (https.address() as AddressInfo).port;
  let plainRequests = 0;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const front = createTcpServer((socket) => {
    track(socket);
    socket.once('data', (first: Buffer) => {
      if (first[0] === 0x16) {
        // A TLS ClientHello: relay the connection to the HTTPS server.
        const upstream = connect(httpsPort, '127.0.0.1', () => {
          upstream.write(first);
          socket.pipe(upstream);
          upstream.pipe(socket);
        });
        track(upstream);
        return;
      }
      plainRequests++;
      socket.end(
        'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n',
      );
    });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(front.address() as AddressInfo).port}`,
    plainRequests: () => plainRequests,
    stop: async () => {
      for (const s of sockets) s.destroy();
      https.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await new Promise<void>((resolve) => https.close(() => resolve()));
    },
  };
}

/** A proxy that answers every CONNECT (and every plain request) with `status`, counting them. */
async function refusingProxy(status: number) {
  const connects: string[] = [];
  const server: Server = createHttpServer((req, res) => {
    connects.push(`GET ${req.url}`);
    res.writeHead(status).end();
  });
  server.on('connect', (req, socket: Socket) => {
    connects.push(String(req.url));
    socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Length: 0\r\n\r\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connects,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function ping(host: string, tls: TlsPolicy, retries = 0) {
  const client = new RegistryClient(
    host,
    new HttpClient(tls, defaultRetryPolicy({ retries, baseDelayMs: 1 })),
    async () => undefined,
  );
  return client.ping(new AbortController().signal, log).finally(() => client.http.close());
}

/** Run `fn` with these proxy variables, restoring the environment after. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    process.env = saved;
  }
}

/** The tests of the suite below: the counts are reported only when every one has run. */
const TESTS = 7;

describe('registry certificates and proxies', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  const noCerts = () => ({ certDirs: [join(tmp.dir, 'no-certs')] });
  // Refusals counted for docs/reliability.md (the network suite), reported once all five ran.
  const seen = { certificates: 0, proxies: 0, tests: 0 };
  afterEach(() => {
    seen.tests++;
  });

  before(async () => {
    tmp = await tempDir('ocipull-net-errors-');
  });
  after(async () => {
    await tmp.cleanup();
    if (seen.tests === TESTS) {
      ran('net.certificates', { refused: seen.certificates });
      ran('net.proxies', { refused: seen.proxies });
    }
  });

  it('a self-signed certificate on a loopback registry is TLS, with no fallback to plain HTTP', async () => {
    const pair = selfSigned(tmp.dir, 'self', 'IP:127.0.0.1');
    const registry = await tlsRegistry(pair);
    try {
      await assert.rejects(ping(registry.host, new TlsPolicy(noCerts())), (e: unknown) => {
        assert.ok(isOcipullError(e, 'TLS'), `${(e as Error).name}: ${(e as Error).message}`);
        seen.certificates++;
        assert.match(
          e.message,
          new RegExp(`certificate of ${registry.host} did not verify: it is self-signed`),
        );
        assert.match(e.hint ?? '', new RegExp(`/etc/containers/certs\\.d/${registry.host}/ca\\.crt`));
        assert.match(e.hint ?? '', /--cert-dir DIR/);
        assert.match(e.hint ?? '', /--tls-verify=false/);
        return true;
      });
      assert.equal(registry.plainRequests(), 0, 'plain HTTP was not tried');
      // Trusted through --cert-dir (the certificate is its own CA): the same registry answers.
      const certDir = join(tmp.dir, 'cert-dir-self');
      mkdirSync(certDir);
      writeFileSync(join(certDir, 'ca.crt'), readFileSync(pair.cert));
      const base = await ping(registry.host, new TlsPolicy({ ...noCerts(), certDir }));
      assert.equal(base.protocol, 'https:');
      // With --tls-verify=false: HTTPS, unverified.
      assert.equal((await ping(registry.host, new TlsPolicy({ tlsVerify: false }))).protocol, 'https:');
    } finally {
      await registry.stop();
    }
  });

  it('names an unknown CA, a host name mismatch and an expired certificate', async () => {
    const dir = join(tmp.dir, 'pki');
    mkdirSync(dir);
    const { ca, leaf } = caAndLeaf(dir);
    const signed = await tlsRegistry(leaf);
    const otherName = await tlsRegistry(selfSigned(dir, 'other', 'DNS:registry.other.example'));
    const old = expired(dir);
    const stale = await tlsRegistry(old);
    const trust = (name: string, cert: string) => {
      const d = join(tmp.dir, `trust-${name}`);
      mkdirSync(d);
      writeFileSync(join(d, 'ca.crt'), readFileSync(cert));
      return new TlsPolicy({ certDir: d });
    };
    const tlsFailure = (pattern: RegExp) => (e: unknown) => {
      assert.ok(isOcipullError(e, 'TLS'), String(e));
      assert.match(e.message, pattern);
      seen.certificates++;
      return true;
    };
    try {
      await assert.rejects(
        ping(signed.host, new TlsPolicy(noCerts())),
        tlsFailure(/did not verify: it is signed by an unknown CA/),
      );
      await ping(signed.host, trust('ca', ca.cert));
      await assert.rejects(
        ping(otherName.host, trust('other', join(dir, 'other.crt'))),
        tlsFailure(/did not verify: it was issued for another host name/),
      );
      await assert.rejects(
        ping(stale.host, trust('stale', old.cert)),
        tlsFailure(/did not verify: it has expired/),
      );
      for (const r of [signed, otherName, stale]) assert.equal(r.plainRequests(), 0);
    } finally {
      await Promise.all([signed.stop(), otherName.stop(), stale.stop()]);
    }
  });

  it('a loopback registry that does not speak TLS still gets plain HTTP', async () => {
    const plain = createHttpServer((_req, res) => res.writeHead(200).end('{}'));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const host = `127.0.0.1:${(plain.address() as AddressInfo).port}`;
      assert.equal((await ping(host, new TlsPolicy(noCerts()))).protocol, 'http:');
    } finally {
      plain.closeAllConnections();
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });

  it('a proxy answering 502 to CONNECT is PROXY, naming the proxy (not its password) and the status', async () => {
    const proxy = await refusingProxy(502);
    try {
      const url = `http://squid-user:pr0xy-secret@127.0.0.1:${proxy.port}`;
      await withEnv({ HTTPS_PROXY: url, https_proxy: url, NO_PROXY: '', no_proxy: '' }, async () => {
        await assert.rejects(
          ping('registry.example.test:5000', new TlsPolicy(noCerts()), 2),
          (e: unknown) => {
            assert.ok(isOcipullError(e, 'PROXY'), `${(e as Error).name}: ${(e as Error).message}`);
            seen.proxies++;
            assert.match(e.message, new RegExp(`proxy http://127\\.0\\.0\\.1:${proxy.port} refused`));
            assert.match(e.message, /answered HTTP 502 to CONNECT/);
            assert.match(e.message, /registry\.example\.test:5000/);
            assert.doesNotMatch(
              `${e.message} ${e.hint} ${JSON.stringify(e.data)}`,
              /pr0xy-secret|squid-user/,
            );
            assert.match(e.hint ?? '', /NO_PROXY/);
            return true;
          },
        );
      });
      // 502 is worth retrying (the proxy's upstream may come back): 1 + 2 retries.
      assert.equal(proxy.connects.filter((c) => c === 'registry.example.test:5000').length, 3);
    } finally {
      await proxy.stop();
    }
  });

  it('a proxy asking for credentials (407) is PROXY, said so, and not retried; plain http:// too', async () => {
    const proxy = await refusingProxy(407);
    try {
      const url = `http://127.0.0.1:${proxy.port}`;
      await withEnv(
        { HTTP_PROXY: url, http_proxy: url, HTTPS_PROXY: url, https_proxy: url, NO_PROXY: '', no_proxy: '' },
        async () => {
          const http = new HttpClient(
            new TlsPolicy(noCerts()),
            defaultRetryPolicy({ retries: 3, baseDelayMs: 1 }),
          );
          try {
            await assert.rejects(
              http.send({
                url: new URL('http://plain.example.test:5000/v2/'),
                signal: new AbortController().signal,
                log,
                what: 'GET /v2/',
              }),
              (e: unknown) => {
                assert.ok(isOcipullError(e, 'PROXY'), String(e));
                assert.match(e.message, /answered HTTP 407 to CONNECT/);
                seen.proxies++;
                assert.match(e.hint ?? '', /wants credentials/);
                return true;
              },
            );
          } finally {
            await http.close();
          }
        },
      );
      assert.deepEqual(proxy.connects, ['plain.example.test:5000']);
    } finally {
      await proxy.stop();
    }
  });

  it('a proxy that is down is NETWORK naming the proxy', async () => {
    const proxy = await refusingProxy(502);
    await proxy.stop();
    const url = `http://127.0.0.1:${proxy.port}`;
    await withEnv({ HTTPS_PROXY: url, https_proxy: url, NO_PROXY: '', no_proxy: '' }, async () => {
      await assert.rejects(ping('registry.example.test', new TlsPolicy(noCerts())), (e: unknown) => {
        assert.ok(isOcipullError(e, 'NETWORK'), String(e));
        seen.proxies++;
        assert.match(e.message, new RegExp(`through the proxy http://127\\.0\\.0\\.1:${proxy.port}`));
        return true;
      });
    });
  });

  it('the CLI exits 6 (PROXY), not 130 (INTERRUPTED), and TLS (not UNEXPECTED_RESPONSE) for a self-signed registry', async () => {
    const proxy = await refusingProxy(502);
    const registry = await tlsRegistry(selfSigned(tmp.dir, 'cli', 'IP:127.0.0.1'));
    try {
      const env = { XDG_CONFIG_HOME: join(tmp.dir, 'xdg'), OCIPULL_RETRY_DELAY_MS: '1' };
      const proxied = await runCli(
        ['pull', 'docker://registry.example.test/podman/machine-os:5.5', '-o', join(tmp.dir, 'p.qcow2')],
        {
          cwd: tmp.dir,
          env: {
            ...env,
            HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`,
            https_proxy: `http://127.0.0.1:${proxy.port}`,
            NO_PROXY: '',
            no_proxy: '',
          },
        },
      );
      assert.equal(proxied.code, 6, proxied.stderr);
      assert.match(proxied.stderr, /\[PROXY\].*answered HTTP 502 to CONNECT/);
      const direct = await runCli(
        ['pull', `docker://${registry.host}/podman/machine-os:5.5`, '-o', join(tmp.dir, 't.qcow2')],
        {
          cwd: tmp.dir,
          env: { ...env, HTTPS_PROXY: '', https_proxy: '', HTTP_PROXY: '', http_proxy: '' },
        },
      );
      assert.equal(direct.code, 6, direct.stderr);
      assert.match(direct.stderr, /\[TLS\].*it is self-signed/);
      assert.doesNotMatch(direct.stderr, /UNEXPECTED_RESPONSE|400/);
      assert.equal(registry.plainRequests(), 0);
    } finally {
      await Promise.all([proxy.stop(), registry.stop()]);
    }
  });
});

describe('hostile answers to the HTTP layer', () => {
  async function serve(handler: Parameters<typeof createHttpServer>[1]) {
    const server = createHttpServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/`);
    return {
      url,
      stop: async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }
  const send = (url: URL, retries = 2) => {
    const http = new HttpClient(new TlsPolicy({}), defaultRetryPolicy({ retries, baseDelayMs: 1 }));
    return http
      .send({ url, signal: new AbortController().signal, log, what: 'GET /v2/' })
      .finally(() => http.close());
  };

  it('a redirect loop stops after 10 hops (UNEXPECTED_RESPONSE), asked once', async () => {
    let hits = 0;
    const server = await serve((req, res) => {
      hits++;
      res.writeHead(302, { location: req.url === '/v2/' ? '/v2/?again' : '/v2/' }).end();
    });
    try {
      await assert.rejects(send(server.url), (e: unknown) => {
        assert.ok(isOcipullError(e, 'UNEXPECTED_RESPONSE'), String(e));
        assert.match(e.message, /more than 10 redirects/);
        return true;
      });
      assert.equal(hits, 11, 'the first request and 10 redirects, no retry');
    } finally {
      await server.stop();
    }
  });

  it('huge response headers are UNEXPECTED_RESPONSE saying so, not retried', async () => {
    let hits = 0;
    const server = await serve((_req, res) => {
      hits++;
      res.writeHead(200, { 'x-junk': 'j'.repeat(64 * 1024) }).end('{}');
    });
    try {
      await assert.rejects(send(server.url), (e: unknown) => {
        assert.ok(isOcipullError(e, 'UNEXPECTED_RESPONSE'), String(e));
        assert.match(e.message, /response headers are larger than the \d+ bytes accepted/);
        return true;
      });
      assert.equal(hits, 1);
    } finally {
      await server.stop();
    }
  });
});
