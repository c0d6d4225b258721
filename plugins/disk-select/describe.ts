import {
  Annotations,
  type Descriptor,
  type InspectEntry,
  isIndexMediaType,
  type KindDescribeRequest,
  type KindEntry,
  type LoadedDocument,
  MediaTypes,
  OcipullError,
  toOcipullError,
} from 'ocipull';

/** How deep `inspect` follows nested indexes: the same limit as disk selection. */
const MAX_DEPTH = 4;

/**
 * One index entry as `inspect` reports it (its JSON shape, keys in this order): the public
 * `InspectEntry`. Disk entries carry `diskType`; any other manifest is a container image.
 */
export type DiskEntryFacts = InspectEntry;

async function describeEntry(
  request: KindDescribeRequest,
  entry: Descriptor,
  index: string,
  isRoot = false,
): Promise<DiskEntryFacts> {
  const diskType = entry.annotations?.[Annotations.diskType];
  const report: DiskEntryFacts = {
    digest: entry.digest,
    platform: {
      os: entry.platform?.os,
      architecture: entry.platform?.architecture,
      variant: entry.platform?.variant,
    },
    ...(diskType === undefined ? {} : { diskType }),
    mediaType: entry.mediaType,
    index,
  };
  try {
    const doc = await request.load(entry);
    if (doc.kind === 'manifest') {
      const layers = doc.manifest.layers;
      report.layers = layers.length;
      // A lone artifact manifest (what `copy` of one disk writes) is a disk without an index
      // entry: its disktype is the hypervisor its title names (`podman-machine.<arch>.<hv>.…`).
      const artifact =
        diskType === undefined &&
        isRoot &&
        layers.length === 1 &&
        doc.manifest.config.mediaType === MediaTypes.ociEmpty;
      if (artifact) {
        const title = layers[0]!.annotations?.[Annotations.title];
        report.diskType = /^podman-machine\.[^.]+\.([^.]+)\./.exec(title ?? '')?.[1] ?? '-';
      }
      if (report.diskType !== undefined) {
        const layer = layers[0];
        report.title = layer?.annotations?.[Annotations.title];
        report.size = layer?.size;
        report.mediaType = layer?.mediaType ?? entry.mediaType;
        report.layerDigest = layer?.digest;
      } else {
        report.size = layers.reduce((sum, l) => sum + l.size, doc.manifest.config.size);
      }
    }
  } catch (error) {
    const e = toOcipullError(error);
    report.error = { code: e.code, message: e.message };
  }
  return report;
}

/**
 * What `inspect` lists for disks: every entry of the index (nested indexes followed, each listed
 * once), its facts a {@link DiskEntryFacts}. Deeper nesting than pull follows, or a cycle, is
 * INDEX_TOO_DEEP, never a silently shorter listing.
 */
export async function describeDisks(request: KindDescribeRequest): Promise<KindEntry[]> {
  const entries: KindEntry[] = [];
  const add = (facts: DiskEntryFacts) =>
    entries.push({
      manifestDigest: facts.digest,
      ...(facts.platform.os || facts.platform.architecture
        ? {
            platform: {
              os: facts.platform.os ?? '',
              architecture: facts.platform.architecture ?? '',
              ...(facts.platform.variant ? { variant: facts.platform.variant } : {}),
            },
          }
        : {}),
      facts: facts as unknown as Record<string, unknown>,
    });
  const seen = new Set<string>();
  const visiting = new Set<string>();
  const walk = async (doc: LoadedDocument, depth: number): Promise<void> => {
    if (doc.kind === 'manifest') {
      add(await describeEntry(request, doc.descriptor, doc.descriptor.digest, true));
      return;
    }
    if (depth > MAX_DEPTH) {
      throw new OcipullError(
        'INDEX_TOO_DEEP',
        `indexes nest more than ${MAX_DEPTH} levels deep at ${doc.descriptor.digest}`,
        { hint: `inspect follows nested indexes up to ${MAX_DEPTH} levels, as pull does` },
      );
    }
    seen.add(doc.descriptor.digest);
    visiting.add(doc.descriptor.digest);
    for (const entry of doc.index.manifests) {
      if (isIndexMediaType(entry.mediaType) && entry.annotations?.[Annotations.diskType] === undefined) {
        if (visiting.has(entry.digest)) {
          throw new OcipullError(
            'INDEX_TOO_DEEP',
            `index ${doc.descriptor.digest} refers back to ${entry.digest}`,
          );
        }
        if (seen.has(entry.digest)) continue;
        await walk(await request.load(entry), depth + 1);
      } else {
        add(await describeEntry(request, entry, doc.descriptor.digest));
      }
    }
    visiting.delete(doc.descriptor.digest);
  };
  await walk(request.root, 0);
  return entries;
}
