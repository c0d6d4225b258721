import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { createLogger, type Logger, Orchestrator, type Settings } from 'ocipull';
import { REGISTRY_PULL_PLUGINS } from '../registry/helpers.js';
import { compress, makeDisk } from '../support/disks.js';
import { sha256File, useBuiltins } from '../support/files.js';
import { buildMachineOsLayout, type MachineOsLayout } from '../support/machine-os.js';

/**
 * Ranged downloads in tests: 1 MiB chunks over 4 connections, so fixtures stay a few MiB; all of
 * them from the start (the on-demand ramp has its own tests), so a fault meets parallel ranges.
 */
export const RANGED = { connections: 4, rangeChunkSize: 1 << 20, connectionsOnDemand: false };

/** An orchestrator with the registry pull plugins and the cache, ranged as above unless overridden. */
export async function rangedOrchestrator(
  settings: Partial<Settings>,
  log: Logger = createLogger('silent'),
): Promise<Orchestrator> {
  const orchestrator = new Orchestrator({
    log,
    settings: { diskType: 'qemu', arch: 'x86_64', format: 'qcow2', ...RANGED, ...settings },
  });
  return useBuiltins(orchestrator, [...REGISTRY_PULL_PLUGINS, 'cache']);
}

export interface RangedDisk {
  layout: MachineOsLayout;
  qcow2Sha256: string;
  blobDigest: string;
  blobSize: number;
}

/** A machine-os layout (tag 5.5) whose qemu x86_64 layer is a zstd qcow2 of `dataMiB` / 2 MiB or so. */
export async function rangedFixture(dir: string, dataMiB: number, seed = 19): Promise<RangedDisk> {
  const src = join(dir, 'src');
  await fsp.mkdir(src, { recursive: true });
  const qcow2 = await makeDisk(src, { format: 'qcow2', sizeMiB: Math.max(64, dataMiB * 4), dataMiB, seed });
  const zst = await compress(qcow2, 'zstd');
  const layout = await buildMachineOsLayout(join(dir, 'layout'), {
    tag: '5.5',
    disks: [{ diskType: 'qemu', arch: 'x86_64', path: zst }],
  });
  const qemu = layout.disks.find((d) => d.diskType === 'qemu')!;
  return {
    layout,
    qcow2Sha256: await sha256File(qcow2),
    blobDigest: qemu.blobDigest,
    blobSize: qemu.blobSize,
  };
}

/** `bytes=N-M` of a request, as [N, M + 1); `bytes=N-` as [N, size); none: [0, size). */
export function rangeOf(header: string | string[] | undefined, size: number): [number, number] {
  const m = /^bytes=(\d+)-(\d*)$/.exec(String(header ?? ''));
  if (!m) return [0, size];
  return [Number(m[1]), m[2] ? Number(m[2]) + 1 : size];
}
