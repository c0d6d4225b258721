/** Images made with the real umoci: a layout whose layers are shell steps over a bundle's rootfs. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * `umoci init` a layout at `dir/layout`, then for each step: run it (`sh -e`, `$R` is the rootfs)
 * and `umoci repack --refresh-bundle`, so every step is one layer holding its changes.
 */
export function umociImage(
  dir: string,
  steps: readonly string[],
  tag = 'test',
  /** Extra tags pointing at the image as it is after step N (1-based): `{ 2: 'base' }`. */
  tagsAfter: Record<number, string> = {},
): string {
  const layout = join(dir, 'layout');
  const bundle = join(dir, 'bundle');
  const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  umoci('init', '--layout', layout);
  umoci('new', '--image', `${layout}:${tag}`);
  umoci('unpack', '--image', `${layout}:${tag}`, bundle);
  for (const [i, step] of steps.entries()) {
    execFileSync('sh', ['-e', '-c', step], {
      env: { ...process.env, R: join(bundle, 'rootfs') },
      stdio: 'pipe',
    });
    umoci('repack', '--refresh-bundle', '--image', `${layout}:${tag}`, bundle);
    const extra = tagsAfter[i + 1];
    if (extra) umoci('tag', '--image', `${layout}:${tag}`, extra);
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

export const LONG = `${'d'.repeat(120)}/${'f'.repeat(150)}`;

/**
 * The sample image of the rootfs suites, one shell step per layer ($R is the bundle's rootfs):
 * deletions, type changes in every direction, hardlinks, symlinks, a fifo, a device, special modes,
 * owners, an xattr and long names.
 */
export const SAMPLE_STEPS = [
  // 1: a base tree
  `mkdir -p $R/etc $R/bin $R/usr/lib $R/run $R/tmp $R/var/empty $R/dev $R/usr/share/${'d'.repeat(120)}
   echo root:x:0:0 > $R/etc/passwd; echo 127.0.0.1 > $R/etc/hosts
   echo secret > $R/etc/shadow; chown 0:42 $R/etc/shadow; chmod 0640 $R/etc/shadow
   echo tool > $R/bin/tool; chmod 4755 $R/bin/tool; setfattr -n user.note -v hello $R/bin/tool; ln $R/bin/tool $R/bin/tool2
   ln -s tool $R/bin/sh; ln -s /usr/lib $R/lib
   mkfifo -m 0620 $R/run/pipe; chmod 1777 $R/tmp
   echo lib > $R/usr/lib/libx; chown 1000:1000 $R/usr/lib/libx; mkdir $R/usr/lib/sub; echo s > $R/usr/lib/sub/s
   chown 5:6 $R/var/empty; chmod 0700 $R/var/empty
   mknod -m 0666 $R/dev/zero c 1 5
   echo long > $R/usr/share/${LONG}
   touch -h -d @1500000000 $R/bin/sh $R/usr/lib/libx $R/etc`,
  // 2: deletions and type changes
  `rm $R/etc/shadow; rm -rf $R/usr/lib
   rm $R/bin/sh; echo shell > $R/bin/sh
   rmdir $R/var/empty; ln -s ../tmp $R/var/empty
   rm $R/etc/hosts; mkdir $R/etc/hosts; echo inner > $R/etc/hosts/inner
   ln $R/bin/tool $R/etc/hl; ln -s /etc $R/bin/etc-abs
   chmod 2750 $R/run; chgrp 7 $R/run
   touch -h -d @1600000000 $R/bin/etc-abs $R/etc/hosts/inner`,
  // 3: more changes on changed things
  `rm -rf $R/tmp; mkdir $R/tmp; chmod 1777 $R/tmp; echo n > $R/tmp/n
   rm $R/bin/tool2; rm $R/run/pipe; echo now-a-file > $R/run/pipe
   rm $R/dev/zero; rm $R/bin/etc-abs; mkdir $R/bin/etc-abs
   mkdir -p $R/usr/lib; echo back > $R/usr/lib/libx
   openssl rand -out $R/bin/big 1310720`,
];

/** A last step for the output suites: a device and a fifo that stay in the final tree. */
export const NODES_STEP = `mkdir -p $R/dev; mknod -m 0640 $R/dev/zero c 1 5; chown 0:6 $R/dev/zero; mkfifo -m 0600 $R/dev/initctl
   touch -h -d @1700000000 $R/dev/zero $R/dev/initctl $R/dev`;

/**
 * A copy of the tagged image of `layout` into a new layout at `dir` whose layers are the same tars
 * uncompressed (`application/vnd.oci.image.layer.v1.tar`): the config (and so its diff_ids) is
 * the same blob. Returns the new layout.
 */
export async function uncompressedLayout(layout: string, dir: string, tag = 'test'): Promise<string> {
  const { layers, config } = await layoutLayers(layout, tag);
  const blobDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  const put = async (bytes: Buffer, mediaType: string) => {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    await writeFile(join(blobDir, digest.slice(7)), bytes);
    return { mediaType, digest, size: bytes.length };
  };
  const descriptors = [];
  for (const layer of layers)
    descriptors.push(
      await put(gunzipSync(await readFile(layer.path)), 'application/vnd.oci.image.layer.v1.tar'),
    );
  const manifest = await put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: await put(Buffer.from(JSON.stringify(config)), 'application/vnd.oci.image.config.v1+json'),
        layers: descriptors,
      }),
    ),
    'application/vnd.oci.image.manifest.v1+json',
  );
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  return dir;
}

/** `skopeo copy` (plain HTTP to the test registry) with extra flags: `--format v2s2`, `--all`, ... */
export function skopeoCopy(from: string, to: string, ...flags: string[]): void {
  execFileSync(
    'skopeo',
    [
      '--insecure-policy',
      'copy',
      '-q',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      ...flags,
      from,
      to,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
}

/** The raw manifest (or index) a reference serves, as skopeo reads it. */
export function skopeoRaw(reference: string): Record<string, unknown> {
  return JSON.parse(
    execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', reference], { encoding: 'utf8' }),
  );
}

/**
 * More cases for the end-to-end suites, two layers: read-only directories written into by the
 * next layer, a file of mode 0000, UTF-8 names, a space and a newline in names, a 255-byte name, a
 * deep path, setuid / setgid over a chown, a hardlink across directories, a 3777 directory, an
 * xattr on a directory and a `trusted.*` one; then a directory removed and made again, a setuid
 * file replaced, a directory replaced by a symlink.
 */
export const MORE_STEPS = [
  `mkdir -p "$R/ro/inner" "$R/sp ace" "$R/\u00fcn\u00ef/\u65e5\u672c"; echo a > "$R/ro/inner/a"; chmod 0555 "$R/ro" "$R/ro/inner"
   echo z > "$R/\u00fcn\u00ef/\u65e5\u672c/\u30d5\u30a1\u30a4\u30eb"; printf x > "$R/sp ace/new
line"; echo s > $R/zero; chmod 0000 $R/zero
   mkdir -p $R/opq/keep; echo k > $R/opq/keep/k; echo o > $R/opq/old
   d=$R; for i in $(seq 1 20); do d="$d/$(printf 'p%.0s' $(seq 1 120))"; done; mkdir -p "$d"; echo deep > "$d/f"
   echo big > $R/$(printf 'n%.0s' $(seq 1 255))
   setfattr -n user.dir -v d $R/opq; setfattr -n trusted.t -v t $R/zero
   echo su > $R/su; chown 3:4 $R/su; chmod 6755 $R/su; mkdir $R/other; ln $R/su $R/other/su-link
   mkdir $R/sticky; chmod 3777 $R/sticky
   touch -d @1234567890 "$R/sp ace" $R/ro/inner`,
  `rm -rf $R/opq; mkdir $R/opq; echo new > $R/opq/new
   chmod u+w $R/ro $R/ro/inner; echo b > $R/ro/inner/b; chmod 0555 $R/ro/inner $R/ro
   rm $R/su; echo replaced > $R/su
   rm -rf "$R/\u00fcn\u00ef"; ln -s "sp ace" "$R/\u00fcn\u00ef"`,
];
