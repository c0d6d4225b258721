import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLogger, type Logger, Orchestrator, type Plugin, type Settings } from 'ocipull';
import { compress, makeDisk } from '../support/disks.js';
import { buildMachineOsLayout, type MachineOsLayout } from '../support/machine-os.js';
import { repoRoot } from '../support/paths.js';

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
  for (const name of REGISTRY_PULL_PLUGINS) {
    const url = pathToFileURL(join(repoRoot, 'dist', 'plugins', name, 'index.js')).href;
    const { default: PluginClass } = (await import(url)) as { default: new () => Plugin };
    orchestrator.use(new PluginClass());
  }
  return orchestrator;
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

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256')
    .update(await fsp.readFile(path))
    .digest('hex');
}

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

export async function exists(path: string): Promise<boolean> {
  return fsp.access(path).then(
    () => true,
    () => false,
  );
}
