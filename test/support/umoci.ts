/** Images made with the real umoci: a layout whose layers are shell steps over a bundle's rootfs. */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * `umoci init` a layout at `dir/layout`, then for each step: run it (`sh -e`, `$R` is the rootfs)
 * and `umoci repack --refresh-bundle`, so every step is one layer holding its changes.
 */
export function umociImage(dir: string, steps: readonly string[], tag = 'test'): string {
  const layout = join(dir, 'layout');
  const bundle = join(dir, 'bundle');
  const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  umoci('init', '--layout', layout);
  umoci('new', '--image', `${layout}:${tag}`);
  umoci('unpack', '--image', `${layout}:${tag}`, bundle);
  for (const step of steps) {
    execFileSync('sh', ['-e', '-c', step], {
      env: { ...process.env, R: join(bundle, 'rootfs') },
      stdio: 'pipe',
    });
    umoci('repack', '--refresh-bundle', '--image', `${layout}:${tag}`, bundle);
  }
  return layout;
}

/** `umoci unpack` of the image into `dir` (its tree is `dir/rootfs`). */
export function umociUnpack(layout: string, dir: string, tag = 'test'): string {
  execFileSync('umoci', ['unpack', '--image', `${layout}:${tag}`, dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return join(dir, 'rootfs');
}

/** The layer blobs of the tagged manifest, in order (file paths), and the image config. */
export async function layoutLayers(
  layout: string,
  tag = 'test',
): Promise<{ layers: { path: string; mediaType: string }[]; config: Record<string, unknown> }> {
  const blob = (digest: string) => join(layout, 'blobs', ...digest.split(':'));
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
  const entry = index.manifests.find(
    (m: { annotations?: Record<string, string> }) =>
      m.annotations?.['org.opencontainers.image.ref.name'] === tag,
  );
  const manifest = JSON.parse(await readFile(blob(entry.digest), 'utf8'));
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8'));
  return {
    layers: manifest.layers.map((l: { digest: string; mediaType: string }) => ({
      path: blob(l.digest),
      mediaType: l.mediaType,
    })),
    config,
  };
}
