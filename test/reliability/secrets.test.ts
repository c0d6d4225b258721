/**
 * Secrets never reach output: authenticated pulls from the real registry (htpasswd Basic and
 * token auth) through the CLI with --debug, --json and JSON progress, successful and failing,
 * are scanned for the password, its Basic encoding and any token; an authenticated redirect to
 * another host (the fake registry's storage host) arrives without Authorization.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from 'ocipull';
import { machineOsFixture, type PublishedDisk } from '../registry/helpers.js';
import { runCli } from '../support/cli.js';
import { FakeRegistry } from '../support/fake-registry.js';
import { tempDir } from '../support/paths.js';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.js';
import { ran } from './figures.js';
import { exists, orchestratorWith, REGISTRY_PLUGINS, sha256File } from './support.js';

const REPO = 'podman/machine-os';
const USER = 'alice';
const PASSWORD = `pw-${randomBytes(9).toString('base64url')}`;
const WRONG = `wrong-${randomBytes(9).toString('base64url')}`;
/** A JWT anywhere in the output is a leaked token. */
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/;

function secretsIn(text: string, extra: string[] = []): string[] {
  const found: string[] = [];
  const basic = (p: string) => Buffer.from(`${USER}:${p}`).toString('base64');
  for (const secret of [PASSWORD, WRONG, basic(PASSWORD), basic(WRONG), ...extra]) {
    if (text.includes(secret)) found.push(secret.slice(0, 6));
  }
  if (JWT.test(text)) found.push(`JWT ${JWT.exec(text)![0].slice(0, 12)}…`);
  if (/\b(?:Bearer|Basic) [A-Za-z0-9+/=._-]{8,}/.test(text)) found.push('an Authorization value');
  return found;
}

/** Every small file the cache holds (records, index.json, documents), blobs' bytes aside. */
async function cacheText(dir: string, mustExist = true): Promise<string> {
  const parts: string[] = [];
  // "No secret in the cache" must have read a cache: a missing one fails, unless the run failed
  // before it opened one.
  if (!mustExist && !(await exists(dir))) return '';
  async function walk(at: string): Promise<void> {
    for (const entry of await fsp.readdir(at, { withFileTypes: true })) {
      const full = join(at, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && (await fsp.stat(full)).size < 1 << 20)
        parts.push(await fsp.readFile(full, 'latin1'));
    }
  }
  await walk(dir);
  return parts.join('\n');
}

describe('secrets stay out of every output', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disk: PublishedDisk;
  const registries: TestRegistry[] = [];
  let n = 0;
  const env = () => ({
    HOME: join(tmp.dir, 'home'),
    XDG_RUNTIME_DIR: '',
    REGISTRY_AUTH_FILE: '',
    DOCKER_CONFIG: join(tmp.dir, 'docker'),
  });

  before(async () => {
    tmp = await tempDir('ocipull-secrets-');
    disk = await machineOsFixture(tmp.dir, 2);
  });
  after(async () => {
    await Promise.all(registries.map((r) => r.stop()));
    await tmp.cleanup();
  });

  async function registry(mode: 'basic' | 'token'): Promise<TestRegistry> {
    const r = await startRegistry(join(tmp.dir, `registry-${mode}`), { mode, users: { [USER]: PASSWORD } });
    registries.push(r);
    await pushLayout(disk.layout.layoutDir, '5.5', r.addr, REPO, `${USER}:${PASSWORD}`);
    return r;
  }

  async function authfile(addr: string): Promise<string> {
    const path = join(tmp.dir, `auth-${++n}.json`);
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    await fsp.writeFile(path, JSON.stringify({ auths: { [addr]: { auth } } }));
    return path;
  }

  /** Run the CLI and return everything it printed, after checking its exit code. */
  async function pull(addr: string, args: string[], expectCode: number, extraEnv = {}): Promise<string> {
    const out = join(tmp.dir, `out-${++n}.qcow2`);
    const result = await runCli(
      [
        'pull',
        `docker://${addr}/${REPO}:5.5`,
        '--preset',
        'qemu',
        '--arch',
        'x86_64',
        '--tls-verify=false',
        '--cache-dir',
        join(tmp.dir, `cache-${n}`),
        '-o',
        out,
        '--debug',
        ...args,
      ],
      { env: { ...env(), ...extraEnv }, timeoutMs: 60_000 },
    );
    assert.equal(result.code, expectCode, result.stderr);
    if (expectCode === 0) assert.equal(await sha256File(out), disk.qcow2Sha256);
    assert.ok(result.stderr.includes('debug:'), 'debug logging was on');
    // What the run kept on disk (cache records, partial records) counts as output too.
    return `${result.stdout}\n${result.stderr}\n${await cacheText(join(tmp.dir, `cache-${n}`), expectCode === 0)}`;
  }

  for (const mode of ['basic', 'token'] as const) {
    it(`secrets.${mode}: --creds, an auth file and a wrong password, with --debug, --json and JSON progress`, async () => {
      // The scanner itself finds what it looks for.
      assert.notDeepEqual(secretsIn(`x ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')} y`), []);
      const r = await registry(mode);
      const outputs = [
        await pull(r.addr, ['--creds', `${USER}:${PASSWORD}`, '--json', '--progress', 'json'], 0),
        await pull(r.addr, ['--authfile', await authfile(r.addr)], 0),
        await pull(r.addr, [], 0, { REGISTRY_AUTH_FILE: await authfile(r.addr) }),
        await pull(r.addr, ['--creds', `${USER}:${WRONG}`, '--json'], 4),
        await pull(r.addr, ['--creds', `${USER}:${WRONG}`, '--progress', 'plain'], 4),
      ];
      let scanned = 0;
      for (const [i, text] of outputs.entries()) {
        assert.deepEqual(secretsIn(text), [], `run ${i + 1} printed a secret:\n${text}`);
        scanned++;
      }
      assert.match(outputs[3]!, /"code":"UNAUTHORIZED"/);
      if (mode === 'token')
        assert.ok(
          r.tokenRequests.some((t) => t.authorized),
          'tokens were issued',
        );
      ran(mode === 'basic' ? 'secrets.basic' : 'secrets.token', { scanned });
    });
  }

  for (const scheme of ['basic', 'bearer'] as const) {
    it(`secrets.redirect-${scheme}: the storage host gets no Authorization, and no log line holds one`, async () => {
      const fake = await FakeRegistry.start({
        layoutDir: disk.layout.layoutDir,
        auth: { scheme, username: USER, password: PASSWORD },
      });
      try {
        fake.inject({
          match: (req) => req.kind === 'blob' && req.reference === disk.blobDigest,
          fault: { kind: 'redirect' },
        });
        const lines: string[] = [];
        const orchestrator = await orchestratorWith(
          { cacheDir: join(tmp.dir, `cache-${++n}`), transport: { creds: `${USER}:${PASSWORD}` } },
          REGISTRY_PLUGINS,
          createLogger('debug', (line) => lines.push(line)),
        );
        const out = join(tmp.dir, `out-${n}.qcow2`);
        const result = await orchestrator.pull({ source: `docker://${fake.addr}/${REPO}:5.5`, output: out });
        assert.equal(await sha256File(out), disk.qcow2Sha256);
        const storage = fake.of('storage');
        assert.equal(storage.length, 1);
        assert.equal(storage[0]!.headers.authorization, undefined, 'no Authorization to the other host');
        const blob = fake.of('blob').find((r) => r.reference === disk.blobDigest)!;
        assert.ok(blob.headers.authorization, 'the registry itself got credentials');
        const sent = fake.requests.map((r) => r.headers.authorization).filter((a): a is string => Boolean(a));
        const tokens = sent.map((a) => a.replace(/^\S+ /, ''));
        const text = `${lines.join('')}\n${JSON.stringify(result)}\n${await cacheText(join(tmp.dir, `cache-${n}`))}`;
        assert.deepEqual(secretsIn(text, tokens), [], text);
        ran(scheme === 'basic' ? 'secrets.redirect-basic' : 'secrets.redirect-bearer', {
          faults: fake.faultsServed,
          scanned: 1,
        });
      } finally {
        await fake.stop();
      }
    });
  }
});
