/**
 * docker:// against the real registry (Debian's docker-registry), populated with skopeo:
 * anonymous, htpasswd Basic and token auth; through the Orchestrator and the real CLI.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isOcipullError } from 'ocipull';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/paths.js';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.js';
import {
  exists,
  machineOsFixture,
  type PublishedDisk,
  recordingLogger,
  registryOrchestrator,
  sha256File,
} from './helpers.js';

const REPO = 'podman/machine-os';

describe('docker:// against docker-registry', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disk: PublishedDisk;
  const registries: Partial<Record<'plain' | 'basic' | 'token', TestRegistry>> = {};
  let n = 0;
  /** process.env as it was before: the Orchestrator tests read it, and it is restored after. */
  const saved = new Map<string, string | undefined>();
  // No auth file of the machine's user may leak into these tests.
  const env = () => ({
    HOME: join(tmp.dir, 'home'),
    XDG_RUNTIME_DIR: '',
    REGISTRY_AUTH_FILE: '',
    DOCKER_CONFIG: join(tmp.dir, 'docker'),
  });

  before(async () => {
    tmp = await tempDir('ocipull-real-registry-');
    disk = await machineOsFixture(tmp.dir);
    for (const mode of ['plain', 'basic', 'token'] as const) {
      const dir = join(tmp.dir, `registry-${mode}`);
      const registry = await startRegistry(dir, { mode });
      registries[mode] = registry;
      await pushLayout(
        disk.layout.layoutDir,
        '5.5',
        registry.addr,
        REPO,
        mode === 'plain' ? undefined : 'alice:secret-alice',
      );
    }
    for (const [key, value] of Object.entries(env())) {
      saved.set(key, process.env[key]);
      process.env[key] = value;
    }
  });
  after(async () => {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await Promise.all(Object.values(registries).map((r) => r?.stop()));
    await tmp.cleanup();
  });

  const cli = (source: string, out: string, extra: string[] = []) =>
    runCli(
      [
        'pull',
        source,
        '--preset',
        'qemu',
        '--arch',
        'x86_64',
        '--tls-verify=false',
        '-o',
        out,
        '--cache-dir',
        join(tmp.dir, `cache-${++n}`),
        ...extra,
      ],
      {
        env: env(),
      },
    );

  for (const mode of ['plain', 'basic', 'token'] as const) {
    it(`ocipull pull from the ${mode} registry writes the published disk byte-identical`, async () => {
      const registry = registries[mode]!;
      const out = join(tmp.dir, `cli-${mode}.qcow2`);
      const creds = mode === 'plain' ? [] : ['--creds', 'alice:secret-alice'];
      const result = await cli(`docker://${registry.addr}/${REPO}:5.5`, out, creds);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await sha256File(out), disk.qcow2Sha256);
      assert.ok(!`${result.stdout}${result.stderr}`.includes('secret-alice'));
    });
  }

  it('pulls by digest through the Orchestrator, and reads tags', async () => {
    const registry = registries.plain!;
    const orchestrator = await registryOrchestrator({ cacheDir: join(tmp.dir, 'cache-digest') });
    const source = await orchestrator.openSource(
      `docker://${registry.addr}/${REPO}@${disk.layout.indexDigest}`,
    );
    try {
      assert.equal(source.root?.digest, disk.layout.indexDigest);
      assert.deepEqual(await source.listTags?.(), ['5.5']);
      const root = await orchestrator.load(source, source.root!);
      assert.equal(root.kind, 'index');
      const raw = await orchestrator.fetchRaw(
        source,
        { mediaType: 'application/zstd', digest: disk.blobDigest, size: disk.blobSize },
        1000,
      );
      let length = 0;
      for await (const chunk of raw.body) length += (chunk as Buffer).length;
      assert.equal(raw.offset, 1000, 'the registry honours Range');
      assert.equal(length, disk.blobSize - 1000);
    } finally {
      await source.close?.();
    }
  });

  it('tells unknown tags and repositories apart, with the registry error body', async () => {
    const registry = registries.plain!;
    const out = join(tmp.dir, 'missing.qcow2');
    const tag = await cli(`docker://${registry.addr}/${REPO}:9.9`, out);
    assert.equal(tag.code, 3, tag.stderr);
    assert.match(tag.stderr, /TAG_NOT_FOUND/);
    assert.match(tag.stderr, /MANIFEST_UNKNOWN/);
    assert.match(tag.stderr, /5\.5/, 'existing tags are listed');
    const repo = await cli(`docker://${registry.addr}/podman/nothing:5.5`, out);
    assert.equal(repo.code, 3, repo.stderr);
    assert.match(repo.stderr, /NAME_UNKNOWN/);
    assert.equal(await exists(out), false);
    const bad = await cli(`docker://${registry.addr}/Podman/X:5.5`, out);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /REFERENCE_INVALID/);
  });

  for (const mode of ['basic', 'token'] as const) {
    it(`${mode} auth: missing or wrong credentials fail UNAUTHORIZED naming the source, never the secret`, async () => {
      const registry = registries[mode]!;
      const out = join(tmp.dir, `denied-${mode}.qcow2`);
      const anon = await cli(`docker://${registry.addr}/${REPO}:5.5`, out);
      assert.equal(anon.code, 4, anon.stderr);
      assert.match(anon.stderr, /UNAUTHORIZED/);
      assert.match(anon.stderr, /no credentials were found|anonymous/);
      const wrong = await cli(`docker://${registry.addr}/${REPO}:5.5`, out, [
        '--creds',
        'alice:not-her-password',
      ]);
      assert.equal(wrong.code, 4, wrong.stderr);
      assert.match(wrong.stderr, /--creds/);
      assert.ok(!wrong.stderr.includes('not-her-password'));
      assert.equal(await exists(out), false);
    });

    it(`${mode} auth: credentials from an auth file (--authfile, then REGISTRY_AUTH_FILE)`, async () => {
      const registry = registries[mode]!;
      const file = join(tmp.dir, `auth-${mode}.json`);
      const auth = Buffer.from('alice:secret-alice').toString('base64');
      await fsp.writeFile(file, JSON.stringify({ auths: { [registry.addr]: { auth } } }));
      const out = join(tmp.dir, `authfile-${mode}.qcow2`);
      const viaFlag = await cli(`docker://${registry.addr}/${REPO}:5.5`, out, ['--authfile', file]);
      assert.equal(viaFlag.code, 0, viaFlag.stderr);
      assert.equal(await sha256File(out), disk.qcow2Sha256);
      const { log, lines } = recordingLogger();
      process.env.REGISTRY_AUTH_FILE = file;
      try {
        const orchestrator = await registryOrchestrator(
          { cacheDir: join(tmp.dir, `cache-env-${mode}`) },
          log,
        );
        const out2 = join(tmp.dir, `authenv-${mode}.qcow2`);
        await orchestrator.pull({ source: `docker://${registry.addr}/${REPO}:5.5`, output: out2 });
        assert.equal(await sha256File(out2), disk.qcow2Sha256);
        assert.ok(
          lines.some((l) => l.includes('using credentials from REGISTRY_AUTH_FILE')),
          lines.join(''),
        );
        assert.ok(!lines.join('').includes('secret-alice'));
      } finally {
        process.env.REGISTRY_AUTH_FILE = '';
      }
    });
  }

  it('token auth asks for repository:NAME:pull', async () => {
    const registry = registries.token!;
    const from = registry.tokenRequests.length;
    const out = join(tmp.dir, 'token-scope.qcow2');
    const result = await cli(`docker://${registry.addr}/${REPO}:5.5`, out, ['--creds', 'alice:secret-alice']);
    assert.equal(result.code, 0, result.stderr);
    const requests = registry.tokenRequests.slice(from);
    assert.ok(
      requests.some((r) => r.authorized && r.scope.includes(`repository:${REPO}:pull`)),
      JSON.stringify(requests),
    );
  });

  it('a not-found error through the Orchestrator leaves no output', async () => {
    const orchestrator = await registryOrchestrator({ cacheDir: join(tmp.dir, 'cache-nf') });
    const out = join(tmp.dir, 'nf.qcow2');
    await assert.rejects(
      orchestrator.pull({ source: `docker://${registries.plain!.addr}/${REPO}:0.1`, output: out }),
      (e) => isOcipullError(e, 'TAG_NOT_FOUND'),
    );
    assert.equal(await exists(out), false);
  });
});
