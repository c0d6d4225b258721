import { type Descriptor, normalizeArch, type Platform } from 'ocipull';

/** What a kernel package entry is built for: a hypervisor platform (`os`) and an architecture. */
export interface KernelTarget {
  /** The hypervisor platform: qemu, firecracker, xen, cloud-hypervisor, ... */
  platform: string;
  architecture: string;
  version?: string;
  features?: string[];
}

/** kraftkit's architecture naming: x86_64, arm64, arm (amd64 ≡ x86_64, aarch64 ≡ arm64). */
export function kraftArch(arch: string): string {
  const oci = normalizeArch(arch);
  return oci === 'amd64' ? 'x86_64' : oci;
}

export function targetOf(platform: Platform | undefined): KernelTarget | undefined {
  if (!platform?.os || !platform.architecture) return undefined;
  return {
    platform: platform.os,
    architecture: kraftArch(platform.architecture),
    ...(platform['os.version'] ? { version: platform['os.version'] } : {}),
    ...(platform['os.features']?.length ? { features: [...platform['os.features']].sort() } : {}),
  };
}

/** The index entry's platform for a target (features sorted, as kraftkit writes them). */
export function platformOf(target: KernelTarget): Platform {
  return {
    architecture: kraftArch(target.architecture),
    os: target.platform,
    ...(target.version ? { 'os.version': target.version } : {}),
    ...(target.features?.length ? { 'os.features': [...target.features].sort() } : {}),
  };
}

/** A target's identity for merges: the four platform fields, features sorted. */
export function targetKey(entry: Descriptor): string | undefined {
  const target = targetOf(entry.platform);
  if (!target) return undefined;
  return JSON.stringify([target.platform, target.architecture, target.version ?? '', target.features ?? []]);
}

export function describeTarget(target: KernelTarget): string {
  let text = `${target.platform}/${target.architecture}`;
  if (target.version) text += ` kernel ${target.version}`;
  if (target.features?.length) text += ` [${target.features.join(' ')}]`;
  return text;
}

/** Whether an entry's target is the one wanted: version and features only when asked for. */
export function matches(found: KernelTarget, want: KernelTarget): boolean {
  if (found.platform !== want.platform) return false;
  if (normalizeArch(found.architecture) !== normalizeArch(want.architecture)) return false;
  if (want.version !== undefined && found.version !== want.version) return false;
  const have = new Set(found.features ?? []);
  return (want.features ?? []).every((f) => have.has(f));
}
