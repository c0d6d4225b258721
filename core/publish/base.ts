/**
 * Base images of a pack (`pack --rootfs DIR --base SOURCE`): the base's tree pulled by a tree kind
 * (the rootfs kind's own pull, run through the orchestrator with the kind and platform swapped in)
 * into the pack's work directory, its manifest and config read from the source, and the source
 * kept open so its layers can be published as they are: mounted across repositories of the same
 * registry, else copied with their digests checked as they flow.
 */
import { access, readdir, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { OcipullError } from '../errors/errors.js';
import type { PackBase } from '../kinds/types.js';
import { isManifestMediaType } from '../oci/media-types.js';
import type { Orchestrator } from '../orchestrator.js';
import type { Settings } from '../settings.js';
import type { BlobBody, Descriptor, LoadedDocument, Platform, Source, TransportOptions } from '../types.js';
import { openAt } from './copy.js';

/** The orchestrator seen with other settings (same hooks, kinds, codecs and cache). */
function withSettings(orchestrator: Orchestrator, overrides: Partial<Settings>): Orchestrator {
  const settings = Object.freeze({ ...orchestrator.settings, ...overrides } as Settings);
  return Object.create(orchestrator, { settings: { value: settings } }) as Orchestrator;
}

const shown = (p: Platform) => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/** The manifest `digest` under `root` (nested indexes walked). */
async function findManifest(
  orchestrator: Orchestrator,
  source: Source,
  root: LoadedDocument,
  digest: string,
  signal: AbortSignal,
  depth = 0,
): Promise<Extract<LoadedDocument, { kind: 'manifest' }> | undefined> {
  if (root.kind === 'manifest') return root.descriptor.digest === digest ? root : undefined;
  for (const entry of root.index.manifests) {
    if (entry.digest === digest && isManifestMediaType(entry.mediaType)) {
      const found = await orchestrator.load(source, entry, signal);
      if (found.kind === 'manifest') return { ...found, descriptor: { ...found.descriptor, ...entry } };
    }
  }
  if (depth >= 4) return undefined;
  for (const entry of root.index.manifests) {
    if (isManifestMediaType(entry.mediaType)) continue;
    const nested = await orchestrator.load(source, entry, signal);
    const found = await findManifest(orchestrator, source, nested, digest, signal, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * The rootless record of a pulled tree (`TREE.rootfs-record.jsonl`). A pull that left it under
 * its staging name (`.TREE.*.rootfs-record.jsonl`, the tree's rename does not carry it) has it
 * moved beside the tree.
 */
async function recordOf(tree: string): Promise<string | undefined> {
  const record = `${tree}.rootfs-record.jsonl`;
  if (await exists(record)) return record;
  const dir = dirname(tree);
  const staged = (await readdir(dir)).find(
    (name) => name.startsWith(`.${basename(tree)}.`) && name.endsWith('.rootfs-record.jsonl'),
  );
  if (staged === undefined) return undefined;
  await rename(join(dir, staged), record);
  return record;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** The bases one pack opened: their sources stay open for their layers until `close`. */
export class PackBases {
  private readonly sources = new Map<string, Source>();
  private count = 0;

  constructor(
    private readonly orchestrator: Orchestrator,
    private readonly transport: TransportOptions,
    private readonly workDir: () => Promise<string>,
    private readonly signal: AbortSignal,
  ) {}

  async open(reference: string, options: { platform?: Platform; kind?: string } = {}): Promise<PackBase> {
    const { orchestrator, signal } = this;
    const kindName = options.kind ?? 'rootfs';
    if (!orchestrator.kinds.has(kindName)) {
      throw new OcipullError(
        'PACK_INPUT_INVALID',
        `--base needs the ${kindName} kind to pull the base's tree`,
        {
          hint: `add its plugin (ocipull-plugin-kind-${kindName}) to the config's plugins`,
        },
      );
    }
    const s = orchestrator.settings;
    const platform = options.platform ?? {
      os: s.os,
      architecture: s.arch,
      ...(s.variant !== undefined && { variant: s.variant }),
    };
    const kinds = (s as unknown as { kinds?: Record<string, Record<string, unknown>> }).kinds ?? {};
    const view = withSettings(orchestrator, {
      kind: kindName,
      os: platform.os,
      arch: platform.architecture,
      variant: platform.variant,
      replace: false,
      transport: this.transport,
      ...({ kinds: { ...kinds, [kindName]: { ...kinds[kindName], format: 'tree' } } } as object),
    });
    const tree = join(await this.workDir(), `base-${++this.count}`);
    orchestrator.log.info(`base ${reference}: pulling its ${shown(platform)} tree to diff against`);
    const pulled = await view.pull({ source: reference, output: tree, signal });
    const source = this.sources.get(reference) ?? (await this.openSource(reference));
    const root = await orchestrator.load(source, source.root!, signal);
    const chosen = await findManifest(orchestrator, source, root, pulled.manifestDigest, signal);
    if (!chosen) {
      throw new OcipullError(
        'MANIFEST_NOT_FOUND',
        `base ${reference}: manifest ${pulled.manifestDigest} changed under the pack`,
        {
          hint: 'the base tag moved while it was read: pack again, or name the base by digest',
        },
      );
    }
    const { manifest } = chosen;
    const config = await this.readConfig(source, manifest.config);
    const record = await recordOf(tree);
    return {
      reference,
      manifestDescriptor: chosen.descriptor,
      manifest,
      config,
      platform: chosen.descriptor.platform ?? platform,
      tree,
      ...(record !== undefined && { record }),
    };
  }

  /** The source a `{ blob, from }` layer names (opened by `open`, else now). */
  async source(reference: string): Promise<Source> {
    return this.sources.get(reference) ?? this.openSource(reference);
  }

  /** A body reading `descriptor` from `from`, verified as it flows. */
  body(source: Source, descriptor: Descriptor): BlobBody {
    return { open: (offset = 0) => openAt(this.orchestrator, source, descriptor, offset, this.signal) };
  }

  async close(): Promise<void> {
    for (const source of this.sources.values()) await source.close?.().catch(() => {});
    this.sources.clear();
  }

  private async openSource(reference: string): Promise<Source> {
    const source = await this.orchestrator.openSource(reference, {
      purpose: 'pull',
      transport: this.transport,
      signal: this.signal,
    });
    this.sources.set(reference, source);
    if (!source.root) throw new OcipullError('MANIFEST_NOT_FOUND', `${source.reference} names no manifest`);
    return source;
  }

  private async readConfig(source: Source, descriptor: Descriptor): Promise<Buffer> {
    if (descriptor.size > 4 << 20) {
      throw new OcipullError('MANIFEST_INVALID', `the base's config is ${descriptor.size} bytes`, {
        hint: 'an image config is small JSON (at most 4 MiB)',
      });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of await openAt(this.orchestrator, source, descriptor, 0, this.signal))
      chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
}
