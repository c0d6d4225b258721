import { Annotations, type Descriptor, normalizeArch } from 'ocipull';

/** (disktype, os, architecture) of a disk entry; undefined for entries without `disktype`. */
export function entryKey(entry: Descriptor): string | undefined {
  const diskType = entry.annotations?.[Annotations.diskType];
  if (diskType === undefined) return undefined;
  const os = entry.platform?.os ?? '';
  const arch = entry.platform?.architecture ? normalizeArch(entry.platform.architecture) : '';
  return `${diskType}\u0000${os}\u0000${arch}`;
}
