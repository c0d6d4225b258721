import { basename } from 'node:path';
import { type KindPackRequest, MediaTypes, OcipullError, type PackEntry, type PackLayer } from 'ocipull';
import { KernelFormat } from './format.js';
import { digestOf, fileLayer, regularFileSize } from './layer.js';
import { type KernelTarget, kraftArch, platformOf } from './target.js';

/** What `pack --kernel FILE [--initrd FILE] --platform PLAT/ARCH ...` hands the kernel kind. */
export interface KernelPackInputs {
  kernel: string;
  initrd?: string;
  /** `PLAT/ARCH`: the hypervisor platform and the architecture (qemu/x86_64, firecracker/arm64). */
  platform: string;
  kernelVersion?: string;
  cmd?: string[];
  env?: string[];
  features?: string[];
  /** The package name (org.unikraft.image.name); default the kernel file's name. */
  name?: string;
  /** The reference the package is published as (org.opencontainers.image.ref.name). */
  refName?: string;
}

const PLATFORM = /^([a-z0-9][a-z0-9_.-]*)\/([a-z0-9_]+)$/;
const KEY_VALUE = /^[A-Za-z_][A-Za-z0-9_.-]*=/;

function invalid(message: string, hint: string): OcipullError {
  return new OcipullError('PACK_INPUT_INVALID', message, { hint });
}

/** Check the inputs and turn `PLAT/ARCH` etc. into the target the index entry names. */
export function packTarget(inputs: KernelPackInputs): KernelTarget {
  const match = typeof inputs.platform === 'string' ? PLATFORM.exec(inputs.platform) : null;
  if (!match) {
    throw invalid(
      `--platform ${JSON.stringify(inputs.platform ?? '')} is not PLAT/ARCH`,
      'name the hypervisor platform and the architecture, e.g. --platform qemu/x86_64 or firecracker/arm64',
    );
  }
  for (const [flag, list] of [
    ['--feature', inputs.features],
    ['--env', inputs.env],
  ] as const) {
    const bad = (list ?? []).find((item) => !KEY_VALUE.test(item));
    if (bad !== undefined)
      throw invalid(`${flag} ${JSON.stringify(bad)} is not KEY=VALUE`, `e.g. ${flag} CONFIG_X=y`);
  }
  return {
    platform: match[1]!,
    architecture: kraftArch(match[2]!),
    ...(inputs.kernelVersion ? { version: inputs.kernelVersion } : {}),
    ...(inputs.features?.length ? { features: [...new Set(inputs.features)].sort() } : {}),
  };
}

async function layerOf(
  file: string,
  flag: string,
  path: string,
  annotation: string,
): Promise<PackLayer & { digest: string }> {
  const size = await regularFileSize(file);
  if (size === undefined)
    throw invalid(`${flag} ${file} is not a readable regular file`, `${flag} takes the path of a file`);
  const open = fileLayer(file, path, size);
  const { digest } = await digestOf(open);
  return {
    open,
    codec: 'none',
    asIs: true,
    mediaType: KernelFormat.layerMediaType,
    annotations: { [annotation]: path },
    digest,
  };
}

/** One manifest for the target: the kernel layer, the initrd layer, a config with Cmd, Env and diff_ids. */
export async function packKernel(request: KindPackRequest): Promise<PackEntry[]> {
  const inputs = request.inputs as unknown as KernelPackInputs;
  if (typeof inputs.kernel !== 'string' || inputs.kernel === '') {
    throw invalid('no kernel to pack', 'pass --kernel FILE (and --initrd FILE when there is one)');
  }
  const target = packTarget(inputs);
  const layers = [
    await layerOf(inputs.kernel, '--kernel', KernelFormat.kernelPath, KernelFormat.kernelAnnotation),
  ];
  if (inputs.initrd) {
    layers.push(
      await layerOf(inputs.initrd, '--initrd', KernelFormat.initrdPath, KernelFormat.initrdAnnotation),
    );
  }
  const platform = platformOf(target);
  const config = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform['os.version'] ? { 'os.version': platform['os.version'] } : {}),
    ...(platform['os.features'] ? { 'os.features': platform['os.features'] } : {}),
    config: {
      ...(inputs.cmd?.length ? { Cmd: inputs.cmd } : {}),
      ...(inputs.env?.length ? { Env: inputs.env } : {}),
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
  };
  const created = process.env.SOURCE_DATE_EPOCH
    ? new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000).toISOString()
    : new Date().toISOString();
  const annotations: Record<string, string> = {
    [KernelFormat.nameAnnotation]: inputs.name ?? basename(inputs.kernel),
    ...(target.version ? { [KernelFormat.versionAnnotation]: target.version } : {}),
    ...(inputs.refName ? { [KernelFormat.refNameAnnotation]: inputs.refName } : {}),
    [KernelFormat.createdAnnotation]: created,
    [KernelFormat.ocipullAnnotation]: 'ocipull',
  };
  return [
    {
      layers: layers.map(({ digest: _digest, ...layer }) => layer),
      config: { mediaType: MediaTypes.ociConfig, bytes: Buffer.from(JSON.stringify(config)) },
      manifestAnnotations: annotations,
      platform,
      annotations,
      facts: { target, files: layers.length },
    },
  ];
}
