import type { Descriptor, KindPlanRequest, Part, Plan } from 'ocipull';
import { OcipullError } from 'ocipull';
import { readKernelConfig } from './config.js';
import { extractFile, stagedFile } from './extract.js';
import { KERNEL_FILES, KernelFormat } from './format.js';
import { chooseEntry, kernelEntries, kernelLayers } from './select.js';
import { type KernelTarget, kraftArch } from './target.js';

/** The target a run asks for: `--platform PLAT/ARCH` (os = the hypervisor platform), version, features. */
export function wantedTarget(settings: KindPlanRequest['settings']): KernelTarget {
  return {
    // `linux` is the disk kind's default os; a kernel package names a hypervisor platform instead.
    platform: settings.os === 'linux' ? settings.diskType : settings.os,
    architecture: kraftArch(settings.arch),
    ...(settings.kernelVersion ? { version: settings.kernelVersion } : {}),
    ...(settings.features?.length ? { features: [...settings.features].sort() } : {}),
  };
}

function filePart(role: 'kernel' | 'initrd', descriptor: Descriptor, path: string): Part {
  return {
    role,
    descriptor,
    place: {
      type: 'custom',
      place: async ({ input, staging, signal }) => {
        await extractFile({
          input,
          path,
          target: stagedFile(staging, KERNEL_FILES[role]),
          what: `${role} layer ${descriptor.digest}`,
          signal,
        });
      },
    },
    decode: { unpack: 'custom', codec: 'none', name: KERNEL_FILES[role] },
  };
}

/** The kernel kind's plan: the target's kernel (and initrd) layers, written as DIR/kernel, DIR/initrd. */
export async function planKernel(request: KindPlanRequest): Promise<Plan> {
  const want = wantedTarget(request.settings);
  const where = request.source.reference;
  const entry = chooseEntry(await kernelEntries(request.root, request.load), want, where);
  const document = await request.load(entry.descriptor);
  if (document.kind !== 'manifest') {
    throw new OcipullError(
      'KERNEL_PACKAGE_INVALID',
      `${where}: the entry ${entry.descriptor.digest} is not a manifest`,
    );
  }
  const manifest = document.manifest;
  const config = await readKernelConfig(request, manifest.config, where);
  const layers = kernelLayers(manifest, where);
  const pathOf = (layer: Descriptor, key: string, fallback: string) => layer.annotations?.[key] ?? fallback;
  const parts = [
    filePart(
      'kernel',
      layers.kernel,
      pathOf(layers.kernel, KernelFormat.kernelAnnotation, KernelFormat.kernelPath),
    ),
  ];
  if (layers.initrd) {
    parts.push(
      filePart(
        'initrd',
        layers.initrd,
        pathOf(layers.initrd, KernelFormat.initrdAnnotation, KernelFormat.initrdPath),
      ),
    );
  }
  const version = entry.target.version ?? manifest.annotations?.[KernelFormat.versionAnnotation];
  return {
    kind: 'kernel',
    manifestDescriptor: entry.descriptor,
    manifest,
    platform: entry.descriptor.platform!,
    parts,
    output: { type: 'files' },
    outputName: `${manifest.annotations?.[KernelFormat.nameAnnotation]?.replace(/[^A-Za-z0-9._-]+/g, '_') || 'kernel'}-${entry.target.platform}-${entry.target.architecture}`,
    details: {
      target: entry.target,
      cmdline: config.cmd.join(' '),
      cmd: config.cmd,
      env: config.env,
      ...(version ? { kernelVersion: version } : {}),
      files: parts.map((p) => KERNEL_FILES[p.role as 'kernel' | 'initrd']),
    },
  };
}
