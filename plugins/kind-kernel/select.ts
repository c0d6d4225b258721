import {
  type Descriptor,
  type ImageManifest,
  isIndexMediaType,
  type LoadedDocument,
  OcipullError,
} from 'ocipull';
import { describeTarget, type KernelTarget, matches, targetOf } from './target.js';

/** One target of a package: its index entry, and the target it names. */
export interface KernelEntry {
  descriptor: Descriptor;
  target: KernelTarget;
}

/** How deep packages may nest indexes (kraftkit writes one; a per-package index inside is allowed). */
const MAX_DEPTH = 2;

/** Every target of a package: the manifests its index lists (nested indexes walked), by platform. */
export async function kernelEntries(
  root: LoadedDocument,
  load: (descriptor: Descriptor) => Promise<LoadedDocument>,
): Promise<KernelEntry[]> {
  if (root.kind === 'manifest') {
    const target = targetOf(root.descriptor.platform);
    return target ? [{ descriptor: root.descriptor, target }] : [];
  }
  const found: KernelEntry[] = [];
  const walk = async (document: LoadedDocument, depth: number): Promise<void> => {
    if (document.kind !== 'index') return;
    for (const entry of document.index.manifests) {
      if (isIndexMediaType(entry.mediaType)) {
        if (depth < MAX_DEPTH) await walk(await load(entry), depth + 1);
        continue;
      }
      const target = targetOf(entry.platform);
      if (target) found.push({ descriptor: entry, target });
    }
  };
  await walk(root, 0);
  return found;
}

/** The entry for `want`; NO_MATCHING_KERNEL listing the targets there are when none fits. */
export function chooseEntry(entries: KernelEntry[], want: KernelTarget, where: string): KernelEntry {
  const fits = entries.filter((e) => matches(e.target, want));
  if (fits.length > 0) return fits[0]!;
  const there = entries.map((e) => describeTarget(e.target));
  throw new OcipullError('NO_MATCHING_KERNEL', `${where} has no kernel for ${describeTarget(want)}`, {
    hint: there.length
      ? `its targets: ${there.join(', ')}; choose one with --platform PLAT/ARCH (and --kernel-version / --feature)`
      : 'the index lists no kernel targets (entries with a hypervisor platform and an architecture)',
  });
}

/** The kernel and initrd layers of a target's manifest, by annotation, else by position. */
export function kernelLayers(
  manifest: ImageManifest,
  where: string,
): { kernel: Descriptor; initrd?: Descriptor } {
  const annotated = (key: string) => manifest.layers.find((l) => l.annotations?.[key] !== undefined);
  const kernel = annotated('org.unikraft.kernel.image');
  const initrd = annotated('org.unikraft.kernel.initrd');
  if (kernel) return { kernel, ...(initrd ? { initrd } : {}) };
  // No annotations: one layer is the kernel, two are kernel then initrd (their tars' paths are checked).
  const [first, second] = manifest.layers;
  if (first && manifest.layers.length <= 2) return { kernel: first, ...(second ? { initrd: second } : {}) };
  throw new OcipullError('KERNEL_PACKAGE_INVALID', `${where}: no layer is annotated as the kernel`, {
    hint: 'a kernel package annotates its kernel layer org.unikraft.kernel.image (and the initrd org.unikraft.kernel.initrd)',
  });
}
