import { promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import { createLogger, type PullResult } from 'ocipull';
import { type CliOverrides, createOrchestrator, resolveConfig } from '../../core/config/resolve.js';
import { compress, makeDisk } from '../support/disks.js';
import { sha256File } from '../support/files.js';
import {
  buildMachineOsLayout,
  type DiskEntry,
  type MachineArch,
  type MachineOsOptions,
} from '../support/machine-os.js';
import { tarOfFiles } from '../support/tar.js';

export const HYPERVISORS = ['qemu', 'applehv', 'hyperv', 'wsl'] as const;
export const ARCHES: MachineArch[] = ['x86_64', 'aarch64'];
export const FORMATS: Record<string, 'qcow2' | 'raw' | 'vhdx' | 'tar'> = {
  qemu: 'qcow2',
  applehv: 'raw',
  hyperv: 'vhdx',
  wsl: 'tar',
};

export interface SourceDisk {
  diskType: string;
  arch: MachineArch;
  /** The uncompressed disk: what a pull must write. */
  plain: string;
  /** Its zstd-compressed form: the layer. */
  compressed: string;
  sha256: string;
}

export { sha256File };

/** One small disk per hypervisor × arch in `dir` (raw disks are sparse 8 MiB files). */
export async function makeSourceDisks(dir: string): Promise<SourceDisk[]> {
  const disks: SourceDisk[] = [];
  let seed = 10;
  for (const diskType of HYPERVISORS) {
    for (const arch of ARCHES) {
      seed++;
      const name = `${diskType}-${arch}.${FORMATS[diskType]}`;
      let plain: string;
      if (diskType === 'wsl') {
        plain = join(dir, name);
        await fsp.writeFile(
          plain,
          await tarOfFiles([{ name: 'etc/os-release', data: Buffer.from(`ID=test\nSEED=${seed}\n`) }]),
        );
      } else {
        plain = await makeDisk(dir, {
          format: FORMATS[diskType] as 'qcow2' | 'raw' | 'vhdx',
          sizeMiB: 8,
          dataMiB: 0.25,
          seed,
          name,
        });
      }
      disks.push({
        diskType,
        arch,
        plain,
        compressed: await compress(plain, 'zstd'),
        sha256: await sha256File(plain),
      });
    }
  }
  return disks;
}

export function entries(disks: SourceDisk[], patch: Partial<DiskEntry> = {}): DiskEntry[] {
  return disks.map((d) => ({ diskType: d.diskType, arch: d.arch, path: d.compressed, ...patch }));
}

export async function layoutOf(dir: string, disks: SourceDisk[], options: Partial<MachineOsOptions> = {}) {
  return buildMachineOsLayout(dir, {
    tag: 'latest',
    containerImages: true,
    disks: entries(disks),
    ...options,
  });
}

/** Pull flags every test passes: its own cache dir, quiet JSON output. */
export function pullArgs(source: string, output: string, cacheDir: string, extra: string[] = []): string[] {
  return ['pull', source, '-o', output, '--cache-dir', cacheDir, '--json', '--progress', 'none', ...extra];
}

/**
 * A pull in this process, configured exactly as the CLI would be (config search from `cwd`,
 * presets, flags as overrides, plugins loaded by name) but without spawning a child.
 */
export async function pullInProcess(
  source: string | undefined,
  output: string,
  overrides: CliOverrides & { cwd?: string },
): Promise<PullResult> {
  const config = await resolveConfig({ cwd: overrides.cwd ?? dirname(output), ...overrides });
  const orchestrator = await createOrchestrator(config, createLogger('silent'));
  return orchestrator.pull({ source, output });
}
