/**
 * What `pack` does when the destination tag already holds something (kraftkit's strategies),
 * the same for every artifact kind:
 * - `merge`: entries with the same key as a new entry are replaced in place (the kind's
 *   `entryKey`; the disk kind's is (disktype, os, architecture)), everything else (other disks,
 *   container images, index annotations) is kept, new entries are appended;
 * - `overwrite`: the new index replaces the old one;
 * - `exit-on-conflict`: an existing tag is refused (TAG_CONFLICT).
 */
import { OcipullError } from '../errors/errors.js';
import { parseDocument } from '../oci/documents.js';
import { Annotations, MediaTypes } from '../oci/media-types.js';
import { normalizeArch } from '../oci/platform.js';
import type { Descriptor, ImageIndex, TaggedDocument } from '../types.js';

export type MergeStrategy = 'merge' | 'overwrite' | 'exit-on-conflict';

export const MERGE_STRATEGIES: readonly MergeStrategy[] = ['merge', 'overwrite', 'exit-on-conflict'];

/** (disktype, os, architecture) of a disk entry; undefined for entries without `disktype`. */
export function diskKey(entry: Descriptor): string | undefined {
  const diskType = entry.annotations?.[Annotations.diskType];
  if (diskType === undefined) return undefined;
  const os = entry.platform?.os ?? '';
  const arch = entry.platform?.architecture ? normalizeArch(entry.platform.architecture) : '';
  return `${diskType}\u0000${os}\u0000${arch}`;
}

/** Which entries a merge treats as the same target: equal keys; undefined: never replaced. */
export type EntryKey = (entry: Descriptor) => string | undefined;

/**
 * The key of a kind without its own `entryKey`: the artifact type and the platform (os,
 * architecture in either naming, variant), so a new entry replaces its own earlier build.
 */
export function platformKey(entry: Descriptor): string | undefined {
  const p = entry.platform;
  if (!p) return undefined;
  return [entry.artifactType ?? '', p.os, normalizeArch(p.architecture), p.variant ?? ''].join('\u0000');
}

export interface MergeResult {
  index: ImageIndex;
  /** Existing entries that were replaced. */
  replaced: Descriptor[];
  /** Existing entries kept as they were. */
  kept: Descriptor[];
}

/** The existing document as an index: an index as is, a lone manifest as an index listing it. */
function existingIndex(existing: TaggedDocument): ImageIndex {
  const doc = parseDocument(existing.bytes, existing.descriptor);
  if (doc.kind === 'index') return doc.index;
  const { annotations: _tag, ...descriptor } = existing.descriptor;
  return { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [descriptor] };
}

export function mergeIndex(
  existing: TaggedDocument | undefined,
  entries: Descriptor[],
  strategy: MergeStrategy,
  where: string,
  key: EntryKey = diskKey,
): MergeResult {
  const fresh: ImageIndex = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: entries };
  if (!existing) return { index: fresh, replaced: [], kept: [] };
  if (strategy === 'exit-on-conflict') {
    throw new OcipullError('TAG_CONFLICT', `${where} already exists (${existing.descriptor.digest})`, {
      hint: 'pass --merge to add or replace entries in it, or --overwrite to replace it',
      data: { digest: existing.descriptor.digest },
    });
  }
  const old = existingIndex(existing);
  if (strategy === 'overwrite') return { index: fresh, replaced: old.manifests, kept: [] };
  const incoming = new Map(entries.map((e) => [key(e), e]));
  const placed = new Set<Descriptor>();
  const replaced: Descriptor[] = [];
  const kept: Descriptor[] = [];
  const manifests: Descriptor[] = [];
  for (const entry of old.manifests) {
    const k = key(entry);
    const replacement = k === undefined ? undefined : incoming.get(k);
    if (!replacement) {
      kept.push(entry);
      manifests.push(entry);
      continue;
    }
    replaced.push(entry);
    if (!placed.has(replacement)) {
      placed.add(replacement);
      manifests.push(replacement);
    }
  }
  for (const entry of entries) if (!placed.has(entry)) manifests.push(entry);
  return {
    index: { ...old, schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests },
    replaced,
    kept,
  };
}
