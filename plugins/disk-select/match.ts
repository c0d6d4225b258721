import { Annotations, type Descriptor, type DiskRequest, OcipullError, sameArch } from 'ocipull';

/** One disk entry an index offers: the (disktype, os, architecture) triple and where it was found. */
export interface Offer {
  descriptor: Descriptor;
  diskType: string;
  os?: string;
  architecture?: string;
}

/** The disk offer of an index entry, or undefined for a container image (no `disktype`). */
export function offerOf(descriptor: Descriptor): Offer | undefined {
  const diskType = descriptor.annotations?.[Annotations.diskType];
  if (diskType === undefined) return undefined;
  return {
    descriptor,
    diskType,
    os: descriptor.platform?.os,
    architecture: descriptor.platform?.architecture,
  };
}

/** Exact disktype and os; architecture in either naming (x86_64 ≡ amd64, aarch64 ≡ arm64). */
export function fits(offer: Offer, want: DiskRequest): boolean {
  return (
    offer.diskType === want.diskType &&
    offer.os === want.os &&
    offer.architecture !== undefined &&
    sameArch(offer.architecture, want.architecture) &&
    (want.variant === undefined || offer.descriptor.platform?.variant === want.variant)
  );
}

function describe(offer: Offer): string {
  return `${offer.diskType} ${offer.os ?? '?'}/${offer.architecture ?? '?'}`;
}

/** NO_MATCHING_DISK, listing every (disktype, os, architecture) the source offers. */
export function noMatch(
  want: DiskRequest,
  offers: Offer[],
  reference: string,
  containers: number,
): OcipullError {
  const seen = [...new Set(offers.map(describe))];
  const asked = `${want.diskType} ${want.os}/${want.architecture}`;
  const containerNote =
    containers > 0
      ? `; ${containers} container image entr${containers === 1 ? 'y was' : 'ies were'} skipped`
      : '';
  const message = seen.length
    ? `${reference} has no ${asked} disk; it offers: ${seen.join(', ')}`
    : `${reference} offers no disk at all (no index entry has a disktype annotation${containerNote})`;
  const unknown = offers.some((o) => o.os === undefined || o.architecture === undefined);
  const unknownNote = unknown
    ? ` (?: the entry has no platform, so its platform is unknown and it is never chosen; republish it with its platform, e.g. ocipull copy of the source index)`
    : '';
  return new OcipullError('NO_MATCHING_DISK', `${message}${seen.length ? unknownNote : ''}`, {
    hint: seen.length
      ? 'choose one with --disk-type, --os and --arch (or a preset: --preset qemu)'
      : 'is this a machine-os disk index? inspect it with `ocipull inspect`',
    data: {
      wanted: { diskType: want.diskType, os: want.os, architecture: want.architecture },
      offered: offers.map((o) => ({
        diskType: o.diskType,
        os: o.os,
        architecture: o.architecture,
        digest: o.descriptor.digest,
      })),
    },
  });
}
