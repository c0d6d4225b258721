/**
 * A toy artifact kind from outside the tree, written as a third-party plugin would (importing
 * only `ocipull`): a "bundle" of named files, one layer per file, titled with its name, under a
 * real config blob listing the names. This is its pack half; the pull half is written apart.
 *
 * Inputs: `file`: `NAME=PATH` strings (or `{ name, path }`), in layer order; `zstd`: names of the
 * files to compress with zstd (the others are published as they are). The second layer is read
 * through `open()` (bytes on demand), the others by path, so both ways into the core are used.
 */
import { createReadStream } from 'node:fs';
import {
  Annotations,
  type Descriptor,
  type Kind,
  type KindPackRequest,
  OcipullError,
  type Orchestrator,
  type PackEntry,
  type PackedEntry,
  type PackLayer,
} from 'ocipull';

export const BUNDLE_ARTIFACT_TYPE = 'application/vnd.example.bundle.v1';
export const BUNDLE_CONFIG_TYPE = 'application/vnd.example.bundle.config.v1+json';
export const BUNDLE_FILE_TYPE = 'application/vnd.example.bundle.file';
export const BUNDLE_FILE_ZSTD_TYPE = 'application/vnd.example.bundle.file+zstd';

interface BundleFile {
  name: string;
  path: string;
}

function filesOf(inputs: Record<string, unknown>): BundleFile[] {
  const raw = inputs.file;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  const files = list.map((item): BundleFile => {
    if (typeof item === 'string') {
      const eq = item.indexOf('=');
      if (eq > 0 && eq < item.length - 1) return { name: item.slice(0, eq), path: item.slice(eq + 1) };
    } else if (item && typeof item === 'object') {
      const { name, path } = item as Partial<BundleFile>;
      if (typeof name === 'string' && typeof path === 'string') return { name, path };
    }
    throw new OcipullError('PACK_INPUT_INVALID', `bundle: ${JSON.stringify(item)} is not NAME=PATH`, {
      hint: 'e.g. --input file=readme.txt=./README',
    });
  });
  if (files.length === 0) {
    throw new OcipullError('PACK_INPUT_INVALID', 'bundle: no file to pack', {
      hint: 'pass --input file=NAME=PATH at least once',
    });
  }
  return files;
}

export async function packBundle(request: KindPackRequest): Promise<PackEntry[]> {
  const files = filesOf(request.inputs);
  const zstd = new Set(([] as unknown[]).concat(request.inputs.zstd ?? []).map(String));
  const layers = files.map((file, n): PackLayer => {
    const compressed = zstd.has(file.name);
    const source = n === 1 ? { open: async () => createReadStream(file.path) } : { path: file.path };
    return {
      ...source,
      codec: compressed ? 'zstd' : 'none',
      mediaType: compressed ? BUNDLE_FILE_ZSTD_TYPE : BUNDLE_FILE_TYPE,
      annotations: { [Annotations.title]: file.name },
    };
  });
  const config = { files: files.map((f) => f.name), platform: request.platform };
  return [
    {
      layers,
      config: { mediaType: BUNDLE_CONFIG_TYPE, bytes: Buffer.from(JSON.stringify(config)) },
      artifactType: BUNDLE_ARTIFACT_TYPE,
      manifestAnnotations: { 'org.example.bundle.files': String(files.length) },
      platform: request.platform,
      facts: { files: files.map((f) => f.name) },
    },
  ];
}

/** A bundle replaces the bundle of the same platform; nothing else is its own. */
export function bundleEntryKey(entry: Descriptor): string | undefined {
  if (entry.artifactType !== BUNDLE_ARTIFACT_TYPE || !entry.platform) return undefined;
  return `${entry.platform.os}/${entry.platform.architecture}`;
}

export const bundlePackKind: Kind = {
  name: 'bundle',
  description: 'named files, one layer each (a toy kind from outside the tree)',
  plan: async () => {
    throw new OcipullError('UNSUPPORTED', 'this half of the bundle kind only packs');
  },
  pack: packBundle,
  entryKey: bundleEntryKey,
  packResult: (packed: PackedEntry[]) => ({ bundles: packed.map((p) => p.facts) }),
};

/** The plugin a config file names (`plugins: ["./bundle-kind-pack.js"]`). */
export default class BundlePackPlugin {
  readonly name = 'ocipull-plugin-bundle';
  apply(orchestrator: Orchestrator): void {
    orchestrator.kinds.register(bundlePackKind);
  }
}
