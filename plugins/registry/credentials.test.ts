import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isOcipullError } from 'ocipull';
import { authFileCandidates, findCredential, lookupKeys, normalizeAuthKey } from './auth/credentials.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const authJson = (entries: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ auths: entries, ...extra });

describe('credential sources', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let home: string;
  const files: Record<string, string> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ocipull-creds-'));
    home = join(dir, 'home');
    files.authfile = join(dir, 'explicit.json');
    files.registryAuthFile = join(dir, 'registry-auth-file.json');
    files.xdg = join(dir, 'run', 'containers', 'auth.json');
    files.user = join(home, '.config', 'containers', 'auth.json');
    files.docker = join(dir, 'docker', 'config.json');
    for (const f of Object.values(files)) await mkdir(join(f, '..'), { recursive: true });
    // Each file knows a different registry, plus one shared name to test precedence.
    await writeFile(
      files.authfile,
      authJson({ 'shared.io': { auth: b64('from-authfile:p1') }, 'a.io': { auth: b64('a:pa') } }),
    );
    await writeFile(
      files.registryAuthFile,
      authJson({ 'shared.io': { auth: b64('from-env:p2') }, 'b.io': { auth: b64('b:pb') } }),
    );
    await writeFile(
      files.xdg,
      authJson({ 'shared.io': { auth: b64('from-xdg:p3') }, 'c.io': { auth: b64('c:pc') } }),
    );
    await writeFile(
      files.user,
      authJson({
        'shared.io': { auth: b64('from-user:p4') },
        'd.io/team': { auth: b64('team:pt') },
        'd.io': { auth: b64('d:pd') },
      }),
    );
    // A fake credential helper: answers for helper.io, "not found" otherwise.
    const bin = join(dir, 'bin');
    await mkdir(bin);
    const helper = join(bin, 'docker-credential-fake');
    await writeFile(
      helper,
      `#!/bin/sh\nread url\ncase "$url" in\n  helper.io) echo '{"ServerURL":"helper.io","Username":"hu","Secret":"hs"}' ;;\n  token.io) echo '{"ServerURL":"token.io","Username":"<token>","Secret":"refresh-me"}' ;;\n  store.io) echo '{"ServerURL":"store.io","Username":"su","Secret":"ss"}' ;;\n  *) echo 'credentials not found in native keychain'; exit 1 ;;\nesac\n`,
    );
    await chmod(helper, 0o755);
    await writeFile(
      files.docker,
      JSON.stringify({
        auths: {
          'shared.io': { auth: b64('from-docker:p5') },
          'https://index.docker.io/v1/': { auth: b64('hub:ph') },
          'e.io': { identitytoken: 'idtok' },
          'f.io': { username: 'fu', password: 'fp' },
        },
        credHelpers: { 'helper.io': 'fake', 'token.io': 'fake' },
        credsStore: 'fake',
      }),
    );
    env = {
      PATH: `${bin}:${process.env.PATH}`,
      REGISTRY_AUTH_FILE: files.registryAuthFile,
      XDG_RUNTIME_DIR: join(dir, 'run'),
      DOCKER_CONFIG: join(dir, 'docker'),
    };
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('lists the sources in the documented order', () => {
    const list = authFileCandidates({ authfile: files.authfile, env, home }).map((c) => c.path);
    assert.deepEqual(list, [files.authfile, files.registryAuthFile, files.xdg, files.user, files.docker]);
    const plain = authFileCandidates({ env: {}, home }).map((c) => c.path);
    assert.deepEqual(plain, [files.user, join(home, '.docker', 'config.json')]);
  });

  it('takes --creds before any file', async () => {
    const tried: string[] = [];
    const c = await findCredential(
      'shared.io',
      'x/y',
      { creds: 'me:pw', authfile: files.authfile, env, home },
      tried,
    );
    assert.deepEqual([c?.username, c?.password, c?.source], ['me', 'pw', '--creds']);
    assert.deepEqual(tried, ['--creds']);
  });

  it('takes each file in order: the first with an entry wins', async () => {
    const who = async (ctx: { authfile?: string; env: NodeJS.ProcessEnv }) =>
      (await findCredential('shared.io', 'x', { ...ctx, home }))?.username;
    assert.equal(await who({ authfile: files.authfile, env }), 'from-authfile');
    assert.equal(await who({ env }), 'from-env');
    assert.equal(await who({ env: { ...env, REGISTRY_AUTH_FILE: undefined } }), 'from-xdg');
    assert.equal(
      await who({ env: { ...env, REGISTRY_AUTH_FILE: undefined, XDG_RUNTIME_DIR: undefined } }),
      'from-user',
    );
    const noUser = { ...env, REGISTRY_AUTH_FILE: undefined, XDG_RUNTIME_DIR: undefined };
    assert.equal(
      (await findCredential('shared.io', 'x', { env: noUser, home: join(dir, 'nohome') }))?.username,
      'from-docker',
    );
  });

  it('falls through files that do not know the registry, and records what it tried', async () => {
    const tried: string[] = [];
    const c = await findCredential('d.io', 'other/x', { authfile: files.authfile, env, home }, tried);
    assert.deepEqual([c?.username, c?.source], ['d', files.user]);
    assert.deepEqual(tried, [
      `--authfile ${files.authfile}`,
      `REGISTRY_AUTH_FILE (${files.registryAuthFile})`,
      files.xdg,
      files.user,
    ]);
    const none: string[] = [];
    // A credsStore that is not installed is skipped (anonymous); a credHelper named for the registry is required.
    assert.equal(
      await findCredential(
        'nowhere.io',
        'x',
        { env: { ...env, PATH: '/nonexistent' }, home: join(dir, 'nohome') },
        none,
      ),
      undefined,
    );
    await assert.rejects(
      findCredential('helper.io', 'x', { env: { ...env, PATH: '/nonexistent' }, home }),
      (e) => isOcipullError(e, 'UNAUTHORIZED'),
    );
  });

  it('prefers the most specific key (host/namespace over host)', async () => {
    assert.equal((await findCredential('d.io', 'team/app', { env, home }))?.username, 'team');
  });

  it('reads legacy Docker keys, username/password and identity tokens', async () => {
    assert.equal((await findCredential('docker.io', 'library/ubuntu', { env, home }))?.username, 'hub');
    assert.equal((await findCredential('f.io', 'x', { env, home }))?.password, 'fp');
    assert.equal((await findCredential('e.io', 'x', { env, home }))?.identityToken, 'idtok');
  });

  it('runs credHelpers and credsStore helpers', async () => {
    const h = await findCredential('helper.io', 'x', { env, home });
    assert.deepEqual(
      [h?.username, h?.password, h?.source],
      ['hu', 'hs', 'credential helper docker-credential-fake'],
    );
    assert.equal((await findCredential('token.io', 'x', { env, home }))?.identityToken, 'refresh-me');
    assert.equal((await findCredential('store.io', 'x', { env, home }))?.username, 'su');
    // credsStore says "not found" for unknown hosts: anonymous.
    assert.equal(await findCredential('unknown.io', 'x', { env, home }), undefined);
  });

  it('refuses a missing --authfile and bad --creds', async () => {
    await assert.rejects(
      findCredential('a.io', 'x', { authfile: join(dir, 'missing.json'), env, home }),
      (e) => isOcipullError(e, 'CONFIG_LOAD_FAILED'),
    );
    await assert.rejects(findCredential('a.io', 'x', { creds: 'nocolon', env, home }), (e) =>
      isOcipullError(e, 'USAGE'),
    );
  });

  it('normalizes keys', () => {
    assert.equal(normalizeAuthKey('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(normalizeAuthKey('http://quay.io'), 'quay.io');
    assert.equal(normalizeAuthKey('quay.io/podman/'), 'quay.io/podman');
    assert.deepEqual(lookupKeys('quay.io', 'a/b'), ['quay.io/a/b', 'quay.io/a', 'quay.io']);
  });
});
