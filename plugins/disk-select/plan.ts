import { type KindPlanRequest, normalizeArch, type Plan } from 'ocipull';

/**
 * The disk kind's plan: the one layer of the manifest `select.for(diskType)` chose, decoded into
 * one file (unpacked as its media type or bytes say, decompressed as its bytes say with the title
 * as a hint) and checked to be the disk format the title (or the preset) names.
 */
export async function planDisk(request: KindPlanRequest): Promise<Plan> {
  const { settings } = request;
  const selection = await request.select(settings.diskType);
  return {
    kind: 'disk',
    manifestDescriptor: selection.manifestDescriptor,
    manifest: selection.manifest,
    platform: selection.platform,
    diskType: selection.diskType,
    parts: [
      {
        role: 'disk',
        descriptor: selection.layer,
        place: { type: 'file' },
        decode: {
          unpack: 'auto',
          codec: 'auto',
          ...(selection.title === undefined ? {} : { name: selection.title }),
          ...(selection.format === undefined ? {} : { format: selection.format }),
        },
      },
    ],
    output: { type: 'file' },
    outputName: request.expandOutputName({
      name: settings.machineName,
      arch: normalizeArch(selection.platform.architecture),
      format: selection.format ?? settings.format ?? 'img',
      diskType: selection.diskType,
    }),
    details: { title: selection.title },
  };
}
