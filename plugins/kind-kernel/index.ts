import type { Orchestrator, Plugin } from 'ocipull';
import { kernelKind } from './kind.js';

const PLUGIN_NAME = 'ocipull-plugin-kind-kernel';

/** Registers the `kernel` artifact kind (pull, pack, inspect of kraftkit kernel packages). */
export default class KernelKindPlugin implements Plugin {
  readonly name = PLUGIN_NAME;

  apply(orchestrator: Orchestrator): void {
    orchestrator.kinds.register(kernelKind);
  }
}
