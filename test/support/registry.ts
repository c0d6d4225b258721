/**
 * A real registry for tests: Debian's `docker-registry` (CNCF distribution) on 127.0.0.1 with a
 * free port and a throw-away config and storage directory, in one of three modes:
 * - `plain`: anonymous;
 * - `basic`: htpasswd (bcrypt via `htpasswd -B`);
 * - `token`: the registry's `auth: token`, with the realm served by a small in-test token server
 *   that signs ES256 JWTs with a key and self-signed certificate made at start (openssl), given
 *   to the registry as `rootcertbundle` and to clients in the JWT's `x5c` header.
 * With `tls`, the registry serves HTTPS (its `http.tls` config) with a server certificate for
 * IP 127.0.0.1 signed by a CA made at start with openssl; `caPath` is that CA, for certs.d.
 * `pushLayout` copies an OCI layout tag in with `skopeo copy --all --preserve-digests`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from './disks.js';

export type RegistryMode = 'plain' | 'basic' | 'token';

export interface RegistryOptions {
  mode?: RegistryMode;
  /** Users for `basic` and `token` (default alice:secret-alice). */
  users?: Record<string, string>;
  /** `token` mode: anonymous token requests get pull access (default false: no access). */
  anonymousPull?: boolean;
  /** Serve HTTPS with a certificate from a CA made for this registry (see `caPath`). */
  tls?: boolean;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT`. */
  addr: string;
  mode: RegistryMode;
  dir: string;
  users: Record<string, string>;
  /** `https` with the `tls` option, else `http`. */
  scheme: 'http' | 'https';
  /** The CA (PEM file) that signed the server certificate (`tls` only). */
  caPath?: string;
  /** Token requests the token server saw (token mode). */
  tokenRequests: { scope: string[]; account?: string; authorized: boolean }[];
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** The in-test token server: Basic-authenticated GET /token → ES256 JWT for the requested scopes. */
async function startTokenServer(
  dir: string,
  service: string,
  issuer: string,
  users: Record<string, string>,
  anonymousPull: boolean,
  log: TestRegistry['tokenRequests'],
) {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-subj',
    '/CN=ocipull-test-token-issuer',
    '-days',
    '2',
  ]);
  const key = createPrivateKey(await fsp.readFile(keyPath));
  const certDer = new X509Certificate(await fsp.readFile(certPath)).raw;
  const server: Server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token');
    const scopes = url.searchParams
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .filter(Boolean);
    const header = req.headers.authorization ?? '';
    let user: string | undefined;
    let bad = false;
    if (header.startsWith('Basic ')) {
      const [name, ...rest] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
      if (name && users[name] !== undefined && users[name] === rest.join(':')) user = name;
      else bad = true;
    }
    log.push({
      scope: scopes,
      account: url.searchParams.get('account') ?? undefined,
      authorized: user !== undefined,
    });
    if (bad || url.pathname !== '/token') {
      res.writeHead(401, { 'content-type': 'application/json' });
      return void res.end(
        JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] }),
      );
    }
    const access = scopes.flatMap((scope) => {
      const [type, name, actions] = scope.split(':');
      if (type !== 'repository' || !name || !actions) return [];
      const granted = user
        ? actions.split(',')
        : anonymousPull
          ? actions.split(',').filter((a) => a === 'pull')
          : [];
      return granted.length ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const head = b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] }));
    const claims = b64url(
      JSON.stringify({
        iss: issuer,
        sub: user ?? '',
        aud: service,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomBytes(8).toString('hex'),
        access,
      }),
    );
    const signature = sign('sha256', Buffer.from(`${head}.${claims}`), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${head}.${claims}.${b64url(signature)}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        token,
        access_token: token,
        expires_in: 300,
        issued_at: new Date(now * 1000).toISOString(),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, certPath, realm: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token` };
}

/** A CA and a server certificate for IP 127.0.0.1 signed by it (EC P-256, two days). */
async function makeServerCertificate(dir: string) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const caPath = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    caKey,
    '-out',
    caPath,
    '-subj',
    '/CN=ocipull-test-ca',
    '-days',
    '2',
  ]);
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const certificate = join(dir, 'server.crt');
  const ext = join(dir, 'server.ext');
  await fsp.writeFile(ext, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['req', ...ec, '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1']);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    caPath,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-out',
    certificate,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  return { caPath, certificate, key };
}

/** Status of GET /v2/ (0 when the connection fails), over HTTPS trusting `ca` when given. */
async function probe(addr: string, ca?: Buffer): Promise<number> {
  if (!ca)
    return fetch(`http://${addr}/v2/`).then(
      (r) => r.status,
      () => 0,
    );
  return new Promise((resolve) => {
    const req = httpsRequest(`https://${addr}/v2/`, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

export async function startRegistry(dir: string, options: RegistryOptions = {}): Promise<TestRegistry> {
  const mode = options.mode ?? 'plain';
  const users = options.users ?? { alice: 'secret-alice' };
  await fsp.mkdir(join(dir, 'data'), { recursive: true });
  const port = await freePort();
  const tokenRequests: TestRegistry['tokenRequests'] = [];
  let auth = '';
  let tokenServer: Server | undefined;
  if (mode === 'basic') {
    const lines: string[] = [];
    for (const [name, password] of Object.entries(users))
      lines.push((await run('htpasswd', ['-Bbn', name, password])).trim());
    await fsp.writeFile(join(dir, 'htpasswd'), `${lines.join('\n')}\n`);
    auth = `auth:\n  htpasswd:\n    realm: test-registry\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (mode === 'token') {
    const service = 'ocipull-test-registry';
    const issuer = 'ocipull-test-issuer';
    const started = await startTokenServer(
      dir,
      service,
      issuer,
      users,
      options.anonymousPull ?? false,
      tokenRequests,
    );
    tokenServer = started.server;
    auth = `auth:\n  token:\n    realm: ${started.realm}\n    service: ${service}\n    issuer: ${issuer}\n    rootcertbundle: ${started.certPath}\n`;
  }
  let tls = '';
  let caPath: string | undefined;
  if (options.tls) {
    const made = await makeServerCertificate(dir);
    caPath = made.caPath;
    tls = `  tls:\n    certificate: ${made.certificate}\n    key: ${made.key}\n`;
  }
  const config = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: ${randomBytes(16).toString('hex')}
${tls}${auth}`;
  const configPath = join(dir, 'config.yml');
  await fsp.writeFile(configPath, config);
  const logFile = await fsp.open(join(dir, 'registry.log'), 'w');
  const child: ChildProcess = spawn('docker-registry', ['serve', configPath], {
    stdio: ['ignore', logFile.fd, logFile.fd],
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const addr = `127.0.0.1:${port}`;
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      for (let i = 0; i < 100 && !exited; i++) await sleep(50);
      if (!exited) child.kill('SIGKILL');
    }
    await logFile.close().catch(() => {});
    if (tokenServer) await new Promise<void>((resolve) => tokenServer!.close(() => resolve()));
  };
  for (let i = 0; ; i++) {
    if (exited || i > 200) {
      await stop();
      const log = await fsp.readFile(join(dir, 'registry.log'), 'utf8').catch(() => '');
      throw new Error(`docker-registry did not start on ${addr}: ${log.slice(-500)}`);
    }
    const status = await probe(addr, caPath ? await fsp.readFile(caPath) : undefined);
    if (status === 200 || status === 401) break;
    await sleep(50);
  }
  return { addr, mode, dir, users, scheme: caPath ? 'https' : 'http', caPath, tokenRequests, stop };
}

/** `skopeo copy --all --preserve-digests oci:LAYOUT:TAG docker://ADDR/REPO:TAG` (plain HTTP). */
export async function pushLayout(
  layoutDir: string,
  tag: string,
  registryAddr: string,
  repo: string,
  creds?: string,
): Promise<void> {
  await run('skopeo', [
    '--insecure-policy',
    'copy',
    '--all',
    '--preserve-digests',
    '--dest-tls-verify=false',
    ...(creds ? ['--dest-creds', creds] : []),
    `oci:${layoutDir}:${tag}`,
    `docker://${registryAddr}/${repo}:${tag}`,
  ]);
}
