import { type KindPackRequest, OcipullError, type PackEntry } from 'ocipull';

/** The disk kind's pack: one single-layer artifact manifest per disk. (kinds-pack) */
export async function packDisks(_request: KindPackRequest): Promise<PackEntry[]> {
  throw new OcipullError('UNSUPPORTED', 'the disk kind does not pack yet');
}
