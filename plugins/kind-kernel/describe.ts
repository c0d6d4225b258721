import type { KindDescribeRequest, KindEntry } from 'ocipull';
import { KernelFormat } from './format.js';
import { kernelEntries, kernelLayers } from './select.js';

/** `inspect --kind kernel`: one entry per target, with its kernel version, features and sizes. */
export async function describeKernels(request: KindDescribeRequest): Promise<KindEntry[]> {
  const entries = await kernelEntries(request.root, request.load);
  const described: KindEntry[] = [];
  for (const entry of entries) {
    const document = await request.load(entry.descriptor);
    if (document.kind !== 'manifest') continue;
    const manifest = document.manifest;
    let layers: ReturnType<typeof kernelLayers> | undefined;
    try {
      layers = kernelLayers(manifest, request.source.reference);
    } catch {
      layers = undefined;
    }
    described.push({
      manifestDigest: entry.descriptor.digest,
      platform: entry.descriptor.platform,
      facts: {
        target: `${entry.target.platform}/${entry.target.architecture}`,
        kernelVersion: entry.target.version ?? manifest.annotations?.[KernelFormat.versionAnnotation],
        features: entry.target.features ?? [],
        name: manifest.annotations?.[KernelFormat.nameAnnotation],
        kernelSize: layers?.kernel.size,
        initrdSize: layers?.initrd?.size,
      },
    });
  }
  return described;
}
