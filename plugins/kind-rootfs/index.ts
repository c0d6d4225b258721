import type { Orchestrator, Plugin } from 'ocipull';
import { RootfsKind } from './kind.js';

const PLUGIN_NAME = 'ocipull-plugin-kind-rootfs';

/**
 * Registers the `rootfs` artifact kind: a container image's layers applied into a root filesystem
 * (docs/rootfs.md). Not yet in the default plugin list: the pipeline that runs kinds wires it.
 */
export default class KindRootfsPlugin implements Plugin {
  readonly name = PLUGIN_NAME;

  apply(orchestrator: Orchestrator): void {
    orchestrator.kinds.register(new RootfsKind(orchestrator));
  }
}
