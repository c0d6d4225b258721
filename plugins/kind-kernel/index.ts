import type { Descriptor, Kind, Orchestrator, Plugin } from 'ocipull';
import { KIND_DESCRIPTION, KIND_NAME } from './facts.js';

const PLUGIN_NAME = 'ocipull-plugin-kind-kernel';

type KernelKind = typeof import('./kind.js')['kernelKind'];

/**
 * Registers the `kernel` artifact kind (pull, pack, inspect of kraftkit kernel packages). Its
 * modules load on the kind's first use, so runs of other kinds do not pay for them.
 */
export default class KernelKindPlugin implements Plugin {
  readonly name = PLUGIN_NAME;

  apply(orchestrator: Orchestrator): void {
    let loading: Promise<KernelKind> | undefined;
    let loaded: KernelKind | undefined;
    const kind = () =>
      (loading ??= import('./kind.js').then(({ kernelKind }) => {
        loaded = kernelKind;
        return kernelKind;
      }));
    const record: Kind = {
      name: KIND_NAME,
      description: KIND_DESCRIPTION,
      plan: async (request) => (await kind()).plan(request),
      describe: async (request) => (await kind()).describe!(request),
      pack: async (request) => (await kind()).pack!(request),
      // Asked while merging the index `pack` pushes, after `pack` loaded the kind.
      entryKey: (entry: Descriptor) => loaded?.entryKey?.(entry),
    };
    orchestrator.kinds.register(record);
  }
}
