/**
 * TLS and proxies for docker://, against the real registry (Debian's docker-registry serving
 * HTTPS with a certificate from a CA made for the test): refused by default, accepted with the CA
 * in a certs.d directory (also through the config file's `transports.docker.certDirs`, the CLI
 * having no --cert-dir), with --tls-verify=false or when listed insecure; requests go through
 * HTTPS_PROXY when it is set. Plain HTTP is refused for hosts that are not loopback.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isOcipullError, type TransportOptions } from 'ocipull';
import { TlsPolicy } from '../../plugins/registry/tls.js';
import { runCli } from '../support/cli.js';
import { run } from '../support/disks.js';
import { tempDir } from '../support/paths.js';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.js';
import { exists, machineOsFixture, type PublishedDisk, registryOrchestrator, sha256File } from './helpers.js';

describe('docker:// over TLS and proxies', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disk: PublishedDisk;
  let registry: TestRegistry;
  let plain: TestRegistry;
  let caPem: string;
  let n = 0;

  before(async () => {
    tmp = await tempDir('ocipull-registry-tls-');
    disk = await machineOsFixture(tmp.dir, 1);
    [registry, plain] = await Promise.all([
      startRegistry(join(tmp.dir, 'reg-tls'), { tls: true }),
      startRegistry(join(tmp.dir, 'reg-plain')),
    ]);
    caPem = await fsp.readFile(registry.caPath!, 'utf8');
    await pushLayout(disk.layout.layoutDir, '5.5', registry.addr, 'podman/machine-os');
    await pushLayout(disk.layout.layoutDir, '5.5', plain.addr, 'podman/machine-os');
  });
  after(async () => {
    await Promise.all([registry?.stop(), plain?.stop()]);
    await tmp.cleanup();
  });

  async function pull(transport: TransportOptions) {
    const orchestrator = await registryOrchestrator({ cacheDir: join(tmp.dir, `cache-${++n}`), transport });
    const out = join(tmp.dir, `out-${n}.qcow2`);
    await orchestrator.pull({ source: `docker://${registry.addr}/podman/machine-os:5.5`, output: out });
    return out;
  }
  const emptyCerts = () => ({ docker: { certDirs: [join(tmp.dir, 'no-certs')], retries: 1 } });

  it('refuses a certificate it cannot verify (TLS), leaving nothing behind', async () => {
    await assert.rejects(pull({ settings: emptyCerts() }), (e: unknown) => {
      assert.ok(isOcipullError(e, 'TLS'), String(e));
      assert.match(e.hint ?? '', /certs\.d/);
      return true;
    });
    assert.equal(await exists(join(tmp.dir, `out-${n}.qcow2`)), false);
  });

  it('trusts a CA from a certs.d directory (skopeo --cert-dir agrees the directory is right)', async () => {
    const certs = join(tmp.dir, 'certs.d');
    await fsp.mkdir(join(certs, registry.addr), { recursive: true });
    await fsp.writeFile(join(certs, registry.addr, 'ca.crt'), caPem);
    const ref = `docker://${registry.addr}/podman/machine-os:5.5`;
    await run('skopeo', ['inspect', '--raw', '--cert-dir', join(certs, registry.addr), ref]);
    const out = await pull({ settings: { docker: { certDirs: [certs] } } });
    assert.equal(await sha256File(out), disk.qcow2Sha256);
  });

  it('CLI: certs.d named by the config file (transports.docker.certDirs) is trusted; without it exit 6, TLS', async () => {
    const certs = join(tmp.dir, 'certs-cli');
    await fsp.mkdir(join(certs, registry.addr), { recursive: true });
    await fsp.writeFile(join(certs, registry.addr, 'ca.crt'), caPem);
    const config = (dirs: string[]) => {
      const path = join(tmp.dir, `config-${++n}.json`);
      return fsp
        .writeFile(path, JSON.stringify({ transports: { docker: { certDirs: dirs, retries: 0 } } }))
        .then(() => path);
    };
    const cli = async (configPath: string) => {
      const out = join(tmp.dir, `cli-${++n}.qcow2`);
      const result = await runCli(
        [
          'pull',
          `docker://${registry.addr}/podman/machine-os:5.5`,
          '--preset',
          'qemu',
          '--arch',
          'x86_64',
          '--config',
          configPath,
          '--cache-dir',
          join(tmp.dir, `cache-${n}`),
          '-o',
          out,
          '--json',
        ],
        { cwd: tmp.dir, env: { HOME: join(tmp.dir, 'home'), XDG_CONFIG_HOME: join(tmp.dir, 'xdg') } },
      );
      return { result, out };
    };
    const refused = await cli(await config([join(tmp.dir, 'no-certs')]));
    assert.equal(refused.result.code, 6, refused.result.stderr);
    assert.equal(JSON.parse(refused.result.stdout).error.code, 'TLS');
    assert.equal(await exists(refused.out), false);
    const trusted = await cli(await config([certs]));
    assert.equal(trusted.result.code, 0, trusted.result.stderr);
    assert.equal(await sha256File(trusted.out), disk.qcow2Sha256);
  });

  it('skips verification with --tls-verify=false or for insecureRegistries', async () => {
    assert.equal(
      await sha256File(await pull({ tlsVerify: false, settings: emptyCerts() })),
      disk.qcow2Sha256,
    );
    assert.equal(
      await sha256File(await pull({ insecureRegistries: [registry.addr], settings: emptyCerts() })),
      disk.qcow2Sha256,
    );
  });

  it('goes through HTTPS_PROXY (CONNECT) when set', async () => {
    const tunnels: string[] = [];
    const proxy: Server = createServer();
    proxy.on('connect', (req, client: Socket, head: Buffer) => {
      tunnels.push(String(req.url));
      const [host, port] = String(req.url).split(':');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const saved = { ...process.env };
    process.env.HTTPS_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    process.env.NO_PROXY = '';
    process.env.no_proxy = '';
    try {
      assert.equal(await sha256File(await pull({ tlsVerify: false })), disk.qcow2Sha256);
      assert.ok(tunnels.includes(registry.addr), JSON.stringify(tunnels));
    } finally {
      process.env = saved;
      proxy.closeAllConnections?.();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('refuses a plain-HTTP registry that is not loopback (INSECURE_REFUSED) unless listed insecure', async () => {
    // registry.example.test exists only for this proxy, which sends every tunnel to a plain-HTTP
    // registry on 127.0.0.1: to ocipull it is a remote host, yet no byte leaves loopback.
    const [, plainPort] = plain.addr.split(':');
    const remote = `registry.example.test:${plainPort}`;
    const tunnels: string[] = [];
    // Request lines of plain HTTP that went through a tunnel (a TLS hello is not one).
    const plainRequests: string[] = [];
    const proxy: Server = createServer((_req, res) => res.writeHead(502).end());
    proxy.on('connect', (req, client: Socket, head: Buffer) => {
      tunnels.push(String(req.url));
      const upstream = connect(Number(plainPort), '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      client.on('data', (chunk: Buffer) => {
        const line = /^(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+)/.exec(chunk.toString('latin1'));
        if (line) plainRequests.push(`${line[1]} ${line[2]}`);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const saved = { ...process.env };
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    Object.assign(process.env, { HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl, NO_PROXY: '', no_proxy: '' });
    const pullRemote = async (transport: TransportOptions) => {
      const orchestrator = await registryOrchestrator({ cacheDir: join(tmp.dir, `cache-${++n}`), transport });
      const out = join(tmp.dir, `out-${n}.qcow2`);
      await orchestrator.pull({ source: `docker://${remote}/podman/machine-os:5.5`, output: out });
      return out;
    };
    try {
      await assert.rejects(pullRemote({ settings: emptyCerts() }), (e: unknown) => {
        assert.ok(isOcipullError(e, 'INSECURE_REFUSED'), String(e));
        assert.match(e.message, /registry\.example\.test/);
        assert.match(e.hint ?? '', /insecureRegistries/);
        return true;
      });
      assert.equal(await exists(join(tmp.dir, `out-${n}.qcow2`)), false, 'nothing at the output path');
      assert.ok(tunnels.includes(remote), JSON.stringify(tunnels));
      assert.equal(plainRequests.length, 0, `no plain-HTTP request reached the registry: ${plainRequests}`);
      // Listed insecure: HTTPS fails, plain HTTP is allowed, the disk arrives intact.
      const out = await pullRemote({ insecureRegistries: [remote], settings: emptyCerts() });
      assert.equal(await sha256File(out), disk.qcow2Sha256);
      assert.ok(
        plainRequests.some((r) => r.includes('/v2/podman/machine-os/blobs/')),
        JSON.stringify(plainRequests),
      );
    } finally {
      process.env = saved;
      proxy.closeAllConnections?.();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('allows plain HTTP only for loopback, insecure registries or --tls-verify=false', () => {
    assert.equal(new TlsPolicy({}).policy('quay.io').allowHttp, false);
    assert.equal(new TlsPolicy({}).policy('quay.io').verify, true);
    assert.deepEqual(new TlsPolicy({}).policy('127.0.0.1:5000'), {
      verify: true,
      allowHttp: true,
      reason: 'loopback',
    });
    assert.equal(
      new TlsPolicy({ insecureRegistries: ['mirror.internal:5000'] }).policy('mirror.internal:5000')
        .allowHttp,
      true,
    );
    assert.equal(
      new TlsPolicy({ insecureRegistries: ['mirror.internal'] }).policy('mirror.internal:5000').verify,
      false,
    );
    assert.equal(
      new TlsPolicy({ insecureRegistries: ['mirror.internal:5000'] }).policy('mirror.internal:6000')
        .allowHttp,
      false,
    );
    assert.equal(new TlsPolicy({ tlsVerify: false }).policy('quay.io').allowHttp, true);
  });
});
