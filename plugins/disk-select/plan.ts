import { type KindPlanRequest, OcipullError, type Plan } from 'ocipull';

/** The disk kind's plan: the one layer of the manifest `select.for(diskType)` chose. (kinds-pull) */
export async function planDisk(_request: KindPlanRequest): Promise<Plan> {
  throw new OcipullError('UNSUPPORTED', 'the disk kind does not plan pulls yet');
}
