/** Helpers of the `pack --rootfs` CLI suites: the CLI with the test config, skopeo and umoci back. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';
import { diffShapes, listTree, shapeOf } from '../support/rootfs.js';
import { umociUnpack } from '../support/umoci.js';
import { observeXattrs, run } from './helpers.js';

export interface PackedImage {
  platform: { os: string; architecture: string; variant?: string };
  manifestDigest: string;
  manifestMediaType: string;
  config: { digest: string; mediaType: string };
  layers: { digest: string; diffId: string; size: number; mediaType: string }[];
  [fact: string]: unknown;
}

/** The CLI's `pack --json` with the test config; fails the test unless it exits 0. */
export async function packJson(
  args: string[],
  config: string,
  cache: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ images: PackedImage[]; blobs: { pushed: number; mounted: number; skipped: number } }> {
  const result = await runCli(['pack', ...args, '--config', config, '--tls-verify=false', '--json'], {
    env: { XDG_CACHE_HOME: cache, ...env },
  });
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

/** `skopeo copy` of a registry image into an `oci:` layout (tag `t`), then `umoci unpack`. */
export async function pullBack(
  ref: string,
  dir: string,
  name: string,
  flags: string[] = [],
): Promise<{ layout: string; rootfs: string }> {
  const layout = join(dir, `${name}-layout`);
  await run('skopeo', [
    '--insecure-policy',
    'copy',
    '--src-tls-verify=false',
    ...flags,
    `docker://${ref}`,
    `oci:${layout}:t`,
  ]);
  return { layout, rootfs: umociUnpack(layout, join(dir, `${name}-bundle`), 't') };
}

/** Paths, types, modes, owners, contents, links, hardlinks, mtimes and user xattrs of two trees. */
export async function assertSameTree(ours: string, theirs: string): Promise<void> {
  assert.deepEqual(diffShapes(shapeOf(await listTree(ours)), shapeOf(await listTree(theirs))), []);
  const strip = (x: Record<string, string[]>) =>
    Object.fromEntries(Object.entries(x).filter(([path]) => path !== '.'));
  assert.deepEqual(strip(await observeXattrs(ours)), strip(await observeXattrs(theirs)));
}

/** The blob of `digest` in an OCI layout. */
export const layoutBlob = (layout: string, digest: string) => join(layout, 'blobs', ...digest.split(':'));

// biome-ignore lint/suspicious/noExplicitAny: skopeo's JSON, read field by field
export async function inspect(ref: string, ...flags: string[]): Promise<Record<string, any>> {
  return JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', ...flags, `docker://${ref}`]));
}
