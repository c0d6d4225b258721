/**
 * The built-in registry transport runs the transport conformance kit against a real registry
 * (Debian's docker-registry on 127.0.0.1), imported by its package export path as a third-party
 * transport would. The content goes in through the registry's own HTTP API (monolithic blob
 * uploads, manifests by digest, the index under the tag), not through the transport under test.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Plugin } from 'ocipull';
import { type ConformanceContent, transportConformance } from 'ocipull/testkit/transport';
import { repoRoot, tempDir } from '../support/paths.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

let registry: TestRegistry | undefined;
let cleanup: (() => Promise<void>) | undefined;
const base = () => `http://${registry!.addr}`;

async function putBlob(repo: string, digest: string, bytes: Buffer): Promise<void> {
  const start = await fetch(`${base()}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202, `POST upload: ${start.status}`);
  const location = new URL(start.headers.get('location')!, base());
  location.searchParams.set('digest', digest);
  const put = await fetch(location, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  assert.equal(put.status, 201, `PUT blob: ${put.status} ${await put.text()}`);
}

async function putManifest(repo: string, reference: string, mediaType: string, bytes: Buffer): Promise<void> {
  const put = await fetch(`${base()}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'content-type': mediaType },
    body: bytes,
  });
  assert.equal(put.status, 201, `PUT manifest ${reference}: ${put.status} ${await put.text()}`);
}

async function publish(content: ConformanceContent): Promise<string> {
  const repo = 'conformance/source';
  for (const { descriptor, bytes } of content.blobs) await putBlob(repo, descriptor.digest, bytes);
  const { manifest, index } = content;
  await putManifest(repo, manifest.descriptor.digest, manifest.descriptor.mediaType, manifest.bytes);
  await putManifest(repo, content.tag, index.descriptor.mediaType, index.bytes);
  return `docker://${registry!.addr}/${repo}:${content.tag}`;
}

transportConformance({
  name: 'registry (docker-registry)',
  transport: { tlsVerify: false },
  async setup() {
    let dir: string;
    ({ dir, cleanup } = await tempDir('ocipull-kit-registry-'));
    registry = await startRegistry(join(dir, 'registry'));
  },
  async teardown() {
    await registry?.stop();
    await cleanup?.();
  },
  async plugins(): Promise<Plugin[]> {
    const url = new URL(`file://${join(repoRoot, 'dist', 'plugins', 'registry', 'index.js')}`).href;
    const { default: Registry } = (await import(url)) as { default: new () => Plugin };
    return [new Registry()];
  },
  publish,
  missing: () => `docker://${registry!.addr}/conformance/source:never-published`,
  destination: () => `docker://${registry!.addr}/conformance/pushed:pushed`,
});
