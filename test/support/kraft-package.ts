/**
 * A kernel package written the way kraftkit writes one (KERNEL-PACKAGE-FORMAT.md), without
 * ocipull: GNU tar makes the layers (one file at /unikraft/bin/kernel or /initrd, timestamps and
 * owners zeroed), node:crypto the digests, fs the OCI layout. Optionally the targets sit in a
 * nested per-package index, as some kraftkit versions publish them.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

export interface KraftTarget {
  /** The hypervisor platform (os): qemu, firecracker, ... */
  plat: string;
  /** kraftkit naming: x86_64, arm64. */
  arch: string;
  kernel: Buffer;
  initrd?: Buffer;
  version?: string;
  features?: string[];
  cmd?: string[];
  env?: string[];
}

export interface KraftPackage {
  layoutDir: string;
  tag: string;
  indexDigest: string;
  targets: { manifestDigest: string; kernelLayer: string; initrdLayer?: string; configDigest: string }[];
}

const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A tar holding `bytes` at `/unikraft/bin/<name>` (absolute, as kraftkit writes it) via GNU tar. */
export async function kraftLayer(work: string, name: string, bytes: Buffer): Promise<Buffer> {
  const dir = await fsp.mkdtemp(join(work, 'layer-'));
  await fsp.mkdir(join(dir, 'unikraft', 'bin'), { recursive: true });
  await fsp.writeFile(join(dir, 'unikraft', 'bin', name), bytes);
  return execFileSync(
    'tar',
    [
      '-c',
      '-P',
      '-C',
      dir,
      '--format=posix',
      '--mtime=@0',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--pax-option=delete=atime,delete=ctime',
      '--transform',
      's,^,/,',
      `unikraft/bin/${name}`,
    ],
    { maxBuffer: 1 << 30 },
  );
}

export async function writeKraftPackage(
  layoutDir: string,
  tag: string,
  name: string,
  targets: KraftTarget[],
  options: { nested?: boolean; work: string },
): Promise<KraftPackage> {
  const blobs = join(layoutDir, 'blobs', 'sha256');
  await fsp.mkdir(blobs, { recursive: true });
  const put = async (bytes: Buffer) => {
    const digest = digestOf(bytes);
    await fsp.writeFile(join(blobs, digest.slice(7)), bytes);
    return { digest, size: bytes.length };
  };
  const entries = [];
  const written = [];
  for (const t of targets) {
    const kernelTar = await kraftLayer(options.work, 'kernel', t.kernel);
    const kernel = await put(kernelTar);
    const layers = [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        ...kernel,
        annotations: { 'org.unikraft.kernel.image': '/unikraft/bin/kernel' },
      },
    ];
    let initrdDigest: string | undefined;
    if (t.initrd) {
      const initrd = await put(await kraftLayer(options.work, 'initrd', t.initrd));
      initrdDigest = initrd.digest;
      layers.push({
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        ...initrd,
        annotations: { 'org.unikraft.kernel.initrd': '/unikraft/bin/initrd' } as never,
      });
    }
    const platform = {
      architecture: t.arch,
      os: t.plat,
      ...(t.version ? { 'os.version': t.version } : {}),
      ...(t.features ? { 'os.features': [...t.features].sort() } : {}),
    };
    const config = await put(
      Buffer.from(
        JSON.stringify({
          ...platform,
          config: { Cmd: t.cmd ?? [], Env: t.env ?? [] },
          rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
        }),
      ),
    );
    const annotations = {
      'org.unikraft.image.name': name,
      ...(t.version ? { 'org.unikraft.kernel.version': t.version } : {}),
      'org.opencontainers.image.ref.name': `${name}:${tag}`,
      'org.opencontainers.image.created': '2026-01-01T00:00:00Z',
      'sh.kraftkit.version': '0.11.6',
      'org.unikraft.kernel.plat': t.plat,
      'org.unikraft.kernel.arch': t.arch,
    };
    const manifest = await put(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers,
          annotations,
        }),
      ),
    );
    entries.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...manifest,
      platform,
      annotations,
    });
    written.push({
      manifestDigest: manifest.digest,
      kernelLayer: kernel.digest,
      ...(initrdDigest ? { initrdLayer: initrdDigest } : {}),
      configDigest: config.digest,
    });
  }
  let index = await put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: entries,
      }),
    ),
  );
  if (options.nested) {
    index = await put(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [
            {
              mediaType: 'application/vnd.oci.image.index.v1+json',
              ...index,
              annotations: { 'org.unikraft.image.name': name },
            },
          ],
        }),
      ),
    );
  }
  await fsp.writeFile(join(layoutDir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await fsp.writeFile(
    join(layoutDir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.index.v1+json',
          ...index,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return { layoutDir, tag, indexDigest: index.digest, targets: written };
}
