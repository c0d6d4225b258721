import type {
  Kind,
  KindDescribeRequest,
  KindEntry,
  KindPackRequest,
  KindPlanRequest,
  PackEntry,
  PackedEntry,
  Plan,
} from 'ocipull';
import { describeDisks } from './describe.js';
import { entryKey } from './entry-key.js';
import { packDisks, packedDisks } from './pack.js';
import { planDisk } from './plan.js';

/**
 * The `disk` kind (machine-os): one disk per hypervisor, chosen by the `disktype` annotation and
 * the platform, written to one file. Selection itself stays per hypervisor (`select.for(diskType)`).
 */
export const diskKind: Kind = {
  name: 'disk',
  description: 'a VM disk image, one per hypervisor (podman machine-os)',
  // A reference without tag means the machine-os release's `<major>.<minor>` (5.5.1 → 5.5).
  defaultTag: (settings) => settings.machineOsVersion.split('.').slice(0, 2).join('.'),
  plan: (request: KindPlanRequest): Promise<Plan> => planDisk(request),
  describe: (request: KindDescribeRequest): Promise<KindEntry[]> => describeDisks(request),
  pack: (request: KindPackRequest): Promise<PackEntry[]> => packDisks(request),
  entryKey,
  packResult: (packed: PackedEntry[]) => ({ disks: packedDisks(packed) }),
};
