#!/usr/bin/env node
// Builds examples/machine-os: a small OCI layout in exactly the form quay.io/podman/machine-os is
// published in (see docs/transports.md), from generated disks. Deterministic: running it again
// gives the same bytes and digests. Needs `npm run build` first, and qemu-img and zstd on PATH.
//
//   node examples/build-example.mjs [OUT_DIR]     (default: examples/machine-os)
//
// The layout holds, under tag `latest`, one image index (as `skopeo copy --all` leaves it) with:
// qemu (qcow2), applehv (raw) and hyperv (vhdx) disks for x86_64 and aarch64 (one blob per disk,
// shared by both architectures, as publish scripts do), zstd-compressed, plus two small bootable
// container images (amd64, arm64) without a disktype.
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = resolve(process.argv[2] ?? join(root, 'examples', 'machine-os'));

const { compress, makeDisk } = await import(join(root, 'dist', 'test', 'support', 'disks.js'));
const { buildMachineOsLayout } = await import(join(root, 'dist', 'test', 'support', 'machine-os.js'));

/** Small virtual disks with a little data: the layout stays well under 3 MB. */
const DISKS = [
  { diskType: 'qemu', format: 'qcow2', seed: 11 },
  { diskType: 'applehv', format: 'raw', seed: 12 },
  { diskType: 'hyperv', format: 'vhdx', seed: 13 },
];

const work = await fsp.mkdtemp(join(tmpdir(), 'ocipull-example-'));
try {
  const entries = [];
  for (const disk of DISKS) {
    const name = `podman-machine.${disk.format}`;
    const path = await compress(
      await makeDisk(work, { format: disk.format, sizeMiB: 64, dataMiB: 0.5, seed: disk.seed, name }),
      'zstd',
    );
    for (const arch of ['x86_64', 'aarch64']) entries.push({ diskType: disk.diskType, arch, path });
  }
  const staging = join(dirname(out), `.${out.split('/').pop()}.building`);
  await fsp.rm(staging, { recursive: true, force: true });
  const layout = await buildMachineOsLayout(staging, {
    tag: 'latest',
    nested: true,
    containerImages: true,
    disks: entries,
    // Written in one go, so the layout holds no intermediate index blobs (`pack` run once per
    // architecture would leave two); test/publish/merge.test.ts shows pack writes the same manifests.
    builder: 'store',
  });
  await fsp.rm(out, { recursive: true, force: true });
  await fsp.rename(staging, out);
  const summary = {
    layout: out,
    reference: `oci-dir:${out}:latest`,
    index: layout.indexDigest,
    disks: layout.disks.map((d) => ({
      diskType: d.diskType,
      arch: d.arch,
      manifest: d.manifestDigest,
      blob: d.blobDigest,
      size: d.blobSize,
      title: d.title,
    })),
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
} finally {
  await fsp.rm(work, { recursive: true, force: true });
}
