import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { createLogger, type Logger, Orchestrator, type Settings } from 'ocipull';
import { compress, makeDisk } from '../support/disks.js';
import { exists, sha256File, useBuiltins } from '../support/files.js';
import { buildMachineOsLayout, type MachineOsLayout } from '../support/machine-os.js';

export const REGISTRY_PULL_PLUGINS = [
  'registry',
  'disk-select',
  'unpack-blob',
  'unpack-tar',
  'codec-zstd',
  'codec-none',
];

/** An orchestrator with built-in plugins loaded from dist/ (as the CLI loads them). */
export async function registryOrchestrator(
  settings: Partial<Settings>,
  log: Logger = createLogger('silent'),
): Promise<Orchestrator> {
  const orchestrator = new Orchestrator({
    log,
    settings: { diskType: 'qemu', arch: 'x86_64', format: 'qcow2', ...settings },
  });
  return useBuiltins(orchestrator, REGISTRY_PULL_PLUGINS);
}

/** A logger that keeps every line (to check what reached the output). */
export function recordingLogger(level: 'debug' | 'info' = 'debug'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger(level, (line) => lines.push(line)), lines };
}

export interface PublishedDisk {
  layout: MachineOsLayout;
  /** The uncompressed qcow2 disk (what a pull must reproduce). */
  qcow2: string;
  qcow2Sha256: string;
  blobDigest: string;
  blobSize: number;
}

export { exists, sha256File };

/** A machine-os layout (nested, tag 5.5) with a qemu x86_64 zstd qcow2 of a few MiB and an applehv raw. */
export async function machineOsFixture(dir: string, dataMiB = 6): Promise<PublishedDisk> {
  const src = join(dir, 'src');
  await fsp.mkdir(src, { recursive: true });
  const qcow2 = await makeDisk(src, { format: 'qcow2', sizeMiB: 64, dataMiB, seed: 7 });
  const zst = await compress(qcow2, 'zstd');
  const raw = await makeDisk(src, { format: 'raw', sizeMiB: 16, dataMiB: 1, seed: 8 });
  const rawZst = await compress(raw, 'zstd');
  const layout = await buildMachineOsLayout(join(dir, 'layout'), {
    tag: '5.5',
    nested: true,
    disks: [
      { diskType: 'qemu', arch: 'x86_64', path: zst },
      { diskType: 'applehv', arch: 'x86_64', path: rawZst },
    ],
  });
  const qemu = layout.disks.find((d) => d.diskType === 'qemu')!;
  return {
    layout,
    qcow2,
    qcow2Sha256: await sha256File(qcow2),
    blobDigest: qemu.blobDigest,
    blobSize: qemu.blobSize,
  };
}
