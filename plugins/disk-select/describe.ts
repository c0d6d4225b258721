import { type KindDescribeRequest, type KindEntry, OcipullError } from 'ocipull';

/** What `inspect` lists for disks: one entry per disk of the index. (library) */
export async function describeDisks(_request: KindDescribeRequest): Promise<KindEntry[]> {
  throw new OcipullError('UNSUPPORTED', 'the disk kind does not describe indexes yet');
}
