/**
 * The docker:// transport against the in-process fault-injecting registry: every pull goes
 * through the real Orchestrator (resolve → select → fetch → decompress → atomic write).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { type ErrorCode, isOcipullError, type TransportOptions } from 'ocipull';
import { getRegistryHooks } from '../../plugins/registry/index.js';
import { FakeRegistry } from '../support/fake-registry.js';
import { tempDir } from '../support/paths.js';
import {
  exists,
  machineOsFixture,
  type PublishedDisk,
  recordingLogger,
  registryOrchestrator,
  sha256File,
} from './helpers.js';

describe('docker:// against the fault-injecting registry', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disk: PublishedDisk;
  let fake: FakeRegistry;
  let n = 0;

  before(async () => {
    tmp = await tempDir('ocipull-fake-registry-');
    disk = await machineOsFixture(tmp.dir);
    fake = await FakeRegistry.start({ layoutDir: disk.layout.layoutDir });
  });
  after(async () => {
    await fake.stop();
    await tmp.cleanup();
  });
  afterEach(() => fake.clearFaults());

  const output = () => join(tmp.dir, `out-${++n}.qcow2`);
  async function pull(source: string, transport: TransportOptions = {}, settings = {}) {
    const { log, lines } = recordingLogger();
    const orchestrator = await registryOrchestrator(
      { cacheDir: join(tmp.dir, `cache-${n}`), transport, ...settings },
      log,
    );
    const out = output();
    const started = fake.requests.length;
    try {
      const result = await orchestrator.pull({ source, output: out });
      return { result, out, lines, requests: fake.requests.slice(started) };
    } catch (error) {
      (error as { lines?: string[] }).lines = lines;
      assert.equal(await exists(out), false, 'nothing is left at the output path');
      throw error;
    }
  }
  const src = (tag = '5.5', repo = 'podman/machine-os') => `docker://${fake.addr}/${repo}:${tag}`;
  const rejectsWith = async (promise: Promise<unknown>, code: ErrorCode, ...fragments: string[]) => {
    await assert.rejects(promise, (error: unknown) => {
      assert.ok(isOcipullError(error), String(error));
      assert.equal(error.code, code, error.message);
      const text = `${error.message} ${error.hint ?? ''}`;
      for (const f of fragments)
        assert.ok(text.includes(f), `${JSON.stringify(f)} in ${JSON.stringify(text)}`);
      return true;
    });
  };

  it('pulls the disk byte-identical, fetching the root manifest once', async () => {
    const { out, result, requests } = await pull(src());
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    assert.equal(result.blobDigest, disk.blobDigest);
    assert.equal(result.source, `docker://${fake.addr}/podman/machine-os:5.5`);
    const manifests = requests.filter((r) => r.kind === 'manifest').map((r) => r.reference);
    assert.deepEqual(manifests, [
      '5.5',
      disk.layout.disks.find((d) => d.diskType === 'qemu')!.manifestDigest,
    ]);
    assert.equal(requests.filter((r) => r.kind === 'blob').length, 1);
  });

  it('applies the default tag (<major>.<minor> of machineOsVersion) when the reference names none', async () => {
    const { out, requests } = await pull(
      `docker://${fake.addr}/podman/machine-os`,
      {},
      { machineOsVersion: '5.5.2' },
    );
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    assert.equal(requests.find((r) => r.kind === 'manifest')?.reference, '5.5');
  });

  it('pulls by digest', async () => {
    const { out } = await pull(`docker://${fake.addr}/podman/machine-os@${disk.layout.indexDigest}`);
    assert.equal(await sha256File(out), disk.qcow2Sha256);
  });

  it('resumes with Range after a connection reset mid-blob', async () => {
    fake.inject({ match: 'blob', fault: { kind: 'reset', afterBytes: 300_000 } });
    const { out, requests } = await pull(src());
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    const blobs = requests.filter((r) => r.kind === 'blob');
    assert.equal(blobs.length, 2);
    assert.equal(blobs[0]!.headers.range, undefined);
    assert.match(String(blobs[1]!.headers.range), /^bytes=\d+-$/);
    assert.ok(Number(/\d+/.exec(String(blobs[1]!.headers.range))![0]) > 0);
  });

  it('handles a server that ignores Range (200 instead of 206) after a reset', async () => {
    fake.inject({ match: 'blob', fault: { kind: 'reset', afterBytes: 400_000 } });
    fake.inject({ match: 'blob', fault: { kind: 'ignoreRange' } });
    const { out, requests } = await pull(src());
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    assert.equal(requests.filter((r) => r.kind === 'blob').length, 2);
  });

  it('a reconnect carries If-Range with the ETag just seen; a changed blob (new ETag) comes back whole (200) and is not spliced', async () => {
    fake.inject({ match: 'blob', fault: { kind: 'reset', afterBytes: 300_000 } });
    fake.inject({ match: 'blob', fault: { kind: 'changed', etag: '"re-uploaded"' } });
    const { out, requests, result } = await pull(src());
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    const blobs = requests.filter((r) => r.kind === 'blob');
    assert.equal(blobs.length, 2);
    assert.match(String(blobs[1]!.headers.range), /^bytes=[1-9]\d*-$/);
    assert.equal(blobs[1]!.headers['if-range'], `"${disk.blobDigest}"`);
    assert.equal(result.blobDigest, disk.blobDigest);
  });

  it('a changed blob whose bytes differ fails DIGEST_MISMATCH, and leaves nothing a later pull would stitch onto', async () => {
    const cacheDir = join(tmp.dir, 'cache-changed');
    fake.inject({ match: 'blob', fault: { kind: 'reset', afterBytes: 300_000 } });
    fake.inject({
      match: 'blob',
      times: 10,
      fault: { kind: 'changed', etag: '"other"', bytesChanged: true },
    });
    await assert.rejects(pull(src(), {}, { cacheDir }), (e: unknown) => {
      assert.ok(isOcipullError(e, 'DIGEST_MISMATCH'), String(e));
      return true;
    });
    fake.clearFaults();
    const again = await pull(src(), {}, { cacheDir });
    assert.equal(await sha256File(again.out), disk.qcow2Sha256);
    const blobs = again.requests.filter((r) => r.kind === 'blob');
    assert.equal(blobs.length, 1);
    assert.equal(blobs[0]!.headers.range, undefined, 'the next pull starts from byte 0');
  });

  it('resumes after a truncated body and after a stalled one (body timeout)', async () => {
    fake.inject({ match: 'blob', fault: { kind: 'truncate', afterBytes: 200_000 } });
    fake.inject({ match: 'blob', fault: { kind: 'stall', afterBytes: 500_000 } });
    const { out, requests } = await pull(src(), { settings: { docker: { timeoutMs: 400 } } });
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    // Each fault is followed by a request resuming within what that answer sent (a slow machine
    // may time out more reads than the stalled one: any further request resumes further on).
    const starts = requests
      .filter((r) => r.kind === 'blob')
      .map((r) => Number(/^bytes=(\d+)-$/.exec(String(r.headers.range ?? ''))?.[1] ?? 0));
    assert.ok(starts.length >= 3, String(starts));
    assert.equal(starts[0], 0);
    assert.ok(starts[1]! > 0 && starts[1]! <= 200_000, `resumed after the truncated body: ${starts}`);
    assert.ok(
      starts[2]! > starts[1]! && starts[2]! <= starts[1]! + 500_000,
      `resumed after the stall: ${starts}`,
    );
    for (let i = 3; i < starts.length; i++) assert.ok(starts[i]! >= starts[i - 1]!, String(starts));
  });

  it('reads a slow body to the end', async () => {
    fake.inject({ match: 'blob', fault: { kind: 'slow', chunkBytes: 256 * 1024, delayMs: 30 } });
    const { out } = await pull(src());
    assert.equal(await sha256File(out), disk.qcow2Sha256);
  });

  it('waits as Retry-After says on 429, and logs the retry at debug level', async () => {
    fake.inject({
      match: 'manifest',
      fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } },
    });
    const { out, lines, requests } = await pull(src());
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    assert.equal(requests.filter((r) => r.kind === 'manifest' && r.reference === '5.5').length, 2);
    // The wait chosen is Retry-After's 1 s (the backoff alone would be far shorter).
    assert.ok(
      lines.some(
        (l) =>
          l.startsWith('debug:') &&
          l.includes('HTTP 429') &&
          l.includes('Retry-After 1 s') &&
          l.includes('retry 1/') &&
          l.includes(' in 1000 ms'),
      ),
      lines.join(''),
    );
  });

  it('rides out a burst of 503s, and gives up with SERVER_ERROR on an endless one', async () => {
    fake.inject({ match: 'blob', times: 3, fault: { kind: 'status', status: 503 } });
    const { out } = await pull(src());
    assert.equal(await sha256File(out), disk.qcow2Sha256);
    fake.inject({ match: 'manifest', times: 1000, fault: { kind: 'status', status: 503 } });
    await rejectsWith(pull(src()), 'SERVER_ERROR', '503');
  });

  it('never retries 404, and shows the registry error body', async () => {
    const before = fake.requests.length;
    await rejectsWith(pull(src('nope')), 'TAG_NOT_FOUND', 'MANIFEST_UNKNOWN', 'existing tags: 5.5');
    assert.equal(fake.requests.slice(before).filter((r) => r.kind === 'manifest').length, 1);
    const named = await FakeRegistry.start({
      layoutDir: disk.layout.layoutDir,
      repositories: ['podman/machine-os'],
    });
    try {
      await rejectsWith(
        pull(`docker://${named.addr}/podman/other:5.5`),
        'NAME_UNKNOWN',
        'repository name not known',
      );
    } finally {
      await named.stop();
    }
  });

  it('fails DIGEST_MISMATCH on wrong blob bytes, leaving nothing behind', async () => {
    fake.inject({ match: 'blob', fault: { kind: 'wrongBytes' } });
    await rejectsWith(pull(src()), 'DIGEST_MISMATCH');
  });

  it('says so when an HTML page or non-JSON answers instead of a manifest', async () => {
    fake.inject({ match: 'manifest', fault: { kind: 'html' } });
    await rejectsWith(
      pull(src()),
      'UNEXPECTED_RESPONSE',
      `http://${fake.addr}/v2/podman/machine-os/manifests/5.5`,
      'HTTP 200',
      'text/html',
    );
    fake.inject({
      match: 'manifest',
      fault: { kind: 'body', contentType: 'application/json', body: 'not json at all' },
    });
    await rejectsWith(pull(src()), 'UNEXPECTED_RESPONSE', 'not JSON', 'application/json');
    fake.inject({ match: 'ping', fault: { kind: 'html', status: 200 } });
    await rejectsWith(pull(src()), 'UNEXPECTED_RESPONSE', 'HTML');
  });

  it('checks Docker-Content-Digest and the digest pulled by', async () => {
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [],
    });
    fake.inject({
      match: 'manifest',
      fault: {
        kind: 'body',
        contentType: 'application/vnd.oci.image.index.v1+json',
        body,
        headers: { 'docker-content-digest': `sha256:${'0'.repeat(64)}` },
      },
    });
    await rejectsWith(pull(src()), 'DIGEST_MISMATCH', 'Docker-Content-Digest');
    fake.inject({
      match: 'manifest',
      fault: { kind: 'body', contentType: 'application/vnd.oci.image.index.v1+json', body },
    });
    await rejectsWith(
      pull(`docker://${fake.addr}/podman/machine-os@${disk.layout.indexDigest}`),
      'DIGEST_MISMATCH',
      'hashes to',
    );
  });

  it('refuses a manifest over 4 MiB', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024 + 10, 0x20);
    fake.inject({
      match: 'manifest',
      fault: { kind: 'body', contentType: 'application/vnd.oci.image.index.v1+json', body: big },
    });
    await rejectsWith(pull(src()), 'MANIFEST_TOO_LARGE', '4194304');
  });

  it('follows a redirect to another host without sending Authorization there', async () => {
    const basic = await FakeRegistry.start({
      layoutDir: disk.layout.layoutDir,
      auth: { scheme: 'basic', username: 'alice', password: 's3cret-pw' },
    });
    try {
      basic.inject({ match: 'blob', fault: { kind: 'redirect' } });
      const { log, lines } = recordingLogger();
      const orchestrator = await registryOrchestrator(
        { cacheDir: join(tmp.dir, 'cache-redirect'), transport: { creds: 'alice:s3cret-pw' } },
        log,
      );
      const out = output();
      await orchestrator.pull({ source: `docker://${basic.addr}/podman/machine-os:5.5`, output: out });
      assert.equal(await sha256File(out), disk.qcow2Sha256);
      const storage = basic.of('storage');
      assert.equal(storage.length, 1);
      assert.equal(storage[0]!.headers.authorization, undefined);
      assert.ok(basic.of('blob')[0]!.headers.authorization?.startsWith('Basic '));
      assert.ok(!lines.join('').includes('s3cret-pw'));
      assert.ok(!lines.join('').includes('X-Signature'), 'presigned query strings are not logged');
    } finally {
      await basic.stop();
    }
  });

  it('does bearer auth: token per scope, renewed after a 401; wrong or missing credentials say which source', async () => {
    const bearer = await FakeRegistry.start({
      layoutDir: disk.layout.layoutDir,
      auth: { scheme: 'bearer', username: 'bob', password: 'hunter2-pw' },
    });
    try {
      bearer.script((req) => {
        // Expire every token once the first blob request arrives: the client must renew.
        if (req.kind === 'blob' && bearer.of('blob').length === 1) bearer.expireTokens();
        return undefined;
      });
      const { log, lines } = recordingLogger();
      const orchestrator = await registryOrchestrator(
        { cacheDir: join(tmp.dir, 'cache-bearer'), transport: { creds: 'bob:hunter2-pw' } },
        log,
      );
      const out = output();
      await orchestrator.pull({ source: `docker://${bearer.addr}/podman/machine-os:5.5`, output: out });
      assert.equal(await sha256File(out), disk.qcow2Sha256);
      const tokens = bearer.of('token');
      assert.equal(tokens.length, 2, 'one token, renewed once after the 401');
      assert.match(tokens[0]!.path, /scope=repository%3Apodman%2Fmachine-os%3Apull/);
      assert.match(tokens[0]!.path, /service=fake-registry/);
      const all = lines.join('');
      assert.ok(!all.includes('hunter2-pw'));
      for (const t of bearer.requests) {
        const token = t.headers.authorization?.replace(/^Bearer /, '');
        if (token && !token.startsWith('Basic')) assert.ok(!all.includes(token), 'tokens are redacted');
      }
      const noHome = { HOME: join(tmp.dir, 'empty-home') };
      const saved = { ...process.env };
      Object.assign(process.env, noHome, {
        REGISTRY_AUTH_FILE: '',
        XDG_RUNTIME_DIR: '',
        DOCKER_CONFIG: join(tmp.dir, 'no-docker'),
      });
      try {
        const bad = await registryOrchestrator({
          cacheDir: join(tmp.dir, 'cache-bad'),
          transport: { creds: 'bob:wrong-pw' },
        });
        await assert.rejects(
          bad.pull({ source: `docker://${bearer.addr}/podman/machine-os:5.5`, output: output() }),
          (e: unknown) => {
            assert.ok(isOcipullError(e, 'UNAUTHORIZED'), String(e));
            assert.ok(e.message.includes('--creds'), e.message);
            assert.ok(!`${e.message}${e.hint}`.includes('wrong-pw'));
            return true;
          },
        );
        const anon = await registryOrchestrator({ cacheDir: join(tmp.dir, 'cache-anon') });
        await rejectsWith(
          anon.pull({ source: `docker://${bearer.addr}/podman/machine-os:5.5`, output: output() }),
          'UNAUTHORIZED',
          'nowhere (anonymous)',
        );
      } finally {
        process.env = saved;
      }
    } finally {
      await bearer.stop();
    }
  });

  it('takes credentials from the authenticate hook, and exchanges identity tokens with a POST', async () => {
    const bearer = await FakeRegistry.start({
      layoutDir: disk.layout.layoutDir,
      auth: { scheme: 'bearer', username: 'carol', password: 'pw-carol', identityToken: 'refresh-carol' },
    });
    try {
      const asked: string[] = [];
      const viaHook = await registryOrchestrator({ cacheDir: join(tmp.dir, 'cache-hook') });
      getRegistryHooks(viaHook).authenticate.tapPromise('test-vault', async ({ registry, repository }) => {
        asked.push(`${registry}/${repository}`);
        return { username: 'carol', password: 'pw-carol', source: 'test vault' };
      });
      const out = output();
      await viaHook.pull({ source: `docker://${bearer.addr}/podman/machine-os:5.5`, output: out });
      assert.equal(await sha256File(out), disk.qcow2Sha256);
      assert.deepEqual([...new Set(asked)], [`${bearer.addr}/podman/machine-os`]);

      const viaToken = await registryOrchestrator({ cacheDir: join(tmp.dir, 'cache-idtoken') });
      getRegistryHooks(viaToken).authenticate.tapPromise('test-vault', async () => ({
        identityToken: 'refresh-carol',
        source: 'test vault',
      }));
      const out2 = output();
      await viaToken.pull({ source: `docker://${bearer.addr}/podman/machine-os:5.5`, output: out2 });
      assert.equal(await sha256File(out2), disk.qcow2Sha256);
      assert.equal(bearer.tokenPosts.length, 1);
      assert.deepEqual(
        { ...bearer.tokenPosts[0], client_id: undefined },
        {
          grant_type: 'refresh_token',
          refresh_token: 'refresh-carol',
          service: 'fake-registry',
          scope: 'repository:podman/machine-os:pull',
          client_id: undefined,
        },
      );
    } finally {
      await bearer.stop();
    }
  });
  // Mirror order against real registries: test/registry/real-transfers.test.ts.
});
