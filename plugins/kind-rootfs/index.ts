import type { Kind, Orchestrator, PackedEntry, Plugin } from 'ocipull';
import { KIND_DESCRIPTION, KIND_NAME } from './facts.js';
import type { RootfsKind } from './kind.js';

const PLUGIN_NAME = 'ocipull-plugin-kind-rootfs';

/**
 * Registers the `rootfs` artifact kind: a container image's layers applied into a root filesystem
 * (docs/rootfs.md), and a tree packed as an image (docs/publishing.md). The kind's modules (layer
 * application, outputs, pack) load on its first use, so runs of other kinds do not pay for them.
 */
export default class KindRootfsPlugin implements Plugin {
  readonly name = PLUGIN_NAME;

  apply(orchestrator: Orchestrator): void {
    let loading: Promise<RootfsKind> | undefined;
    let loaded: RootfsKind | undefined;
    const kind = () =>
      (loading ??= import('./kind.js').then(({ RootfsKind }) => {
        loaded = new RootfsKind(orchestrator);
        return loaded;
      }));
    const record: Kind = {
      name: KIND_NAME,
      description: KIND_DESCRIPTION,
      outputIsPath: true,
      defaultTag: () => 'latest',
      plan: async (request) => (await kind()).plan(request),
      describe: async (request) => (await kind()).describe(request),
      pack: async (request) => (await kind()).pack(request),
      // Called after `pack`, which loaded the kind.
      packResult: (packed: PackedEntry[]) => loaded?.packResult(packed) ?? {},
    };
    orchestrator.kinds.register(record);
  }
}
