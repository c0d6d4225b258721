import {
  type Descriptor,
  isIndexMediaType,
  type LoadedDocument,
  MAX_INDEX_ENTRIES,
  OcipullError,
} from 'ocipull';
import { type Offer, offerOf } from './match.js';

export interface WalkResult {
  /** The first offer for which `accept` said yes, in index order (depth first). */
  found?: Offer;
  /** Every disk offer seen (all of them when nothing was found). */
  offers: Offer[];
  /** Container image entries skipped (no disktype). */
  containers: number;
}

export interface WalkOptions {
  load(descriptor: Descriptor): Promise<LoadedDocument>;
  accept(offer: Offer): boolean;
  maxDepth: number;
  /** Index entries walked at most, over all indexes (default MAX_INDEX_ENTRIES); INDEX_TOO_LARGE past it. */
  maxEntries?: number;
}

/**
 * Walk an index depth first, following nested indexes (a `skopeo copy --all ... oci:DIR` layout
 * points at the machine-os index from its index.json), and stop at the first fitting disk entry.
 * Each index is walked once however often it is listed (a fan-out of nested indexes stays linear),
 * and the entries walked over all of them are bounded by `maxEntries`.
 */
export async function findDisk(root: LoadedDocument, options: WalkOptions): Promise<WalkResult> {
  const result: WalkResult = { offers: [], containers: 0 };
  const visiting = new Set<string>();
  /** Indexes walked to the end without a fit: listed again, they have nothing new to offer. */
  const walked = new Set<string>();
  const maxEntries = options.maxEntries ?? MAX_INDEX_ENTRIES;
  let entries = 0;

  async function visit(doc: LoadedDocument, depth: number): Promise<boolean> {
    if (doc.kind !== 'index') return false;
    if (depth > options.maxDepth) {
      throw new OcipullError(
        'INDEX_TOO_DEEP',
        `indexes nest more than ${options.maxDepth} levels deep at ${doc.descriptor.digest}`,
      );
    }
    visiting.add(doc.descriptor.digest);
    for (const entry of doc.index.manifests) {
      if (++entries > maxEntries) {
        throw new OcipullError(
          'INDEX_TOO_LARGE',
          `the indexes under ${root.descriptor.digest} list more than ${maxEntries} entries (the disk-select limit maxEntries), at ${doc.descriptor.digest}`,
          {
            hint: 'a machine-os index lists a few disks per hypervisor and architecture; this one is not one',
            data: { limit: maxEntries, at: doc.descriptor.digest },
          },
        );
      }
      const offer = offerOf(entry);
      if (offer) {
        result.offers.push(offer);
        if (options.accept(offer)) {
          result.found = offer;
          return true;
        }
      } else if (isIndexMediaType(entry.mediaType)) {
        if (walked.has(entry.digest)) continue;
        if (visiting.has(entry.digest)) {
          throw new OcipullError(
            'INDEX_TOO_DEEP',
            `index ${doc.descriptor.digest} refers back to ${entry.digest}`,
          );
        }
        if (await visit(await options.load(entry), depth + 1)) return true;
      } else {
        result.containers++;
      }
    }
    visiting.delete(doc.descriptor.digest);
    walked.add(doc.descriptor.digest);
    return false;
  }

  await visit(root, 0);
  return result;
}
