/**
 * The codecs of an orchestrator that registered none. `runPack` and the other library calls
 * accept a bare `new Orchestrator()` (as they always have), and `pack` must still recognise an
 * already compressed input and compress an uncompressed one. Core holds no codec facts for that:
 * it loads the codec plugins the `base` preset names into a private registry, once.
 */

import type { CodecRegistry } from './codecs.js';
import { loadPlugins } from './config/plugins.js';
import { expandPresets } from './config/presets.js';
import { createLogger } from './log.js';
import type { Orchestrator } from './orchestrator.js';

let builtins: Promise<CodecRegistry> | undefined;

/** The built-in codec plugins' records (those of the `base` preset), loaded on first use. */
export function builtinCodecs(): Promise<CodecRegistry> {
  builtins ??= (async () => {
    const [base] = await expandPresets(['base'], process.cwd());
    const specs = (base?.plugins ?? []).filter((spec) => spec.name.startsWith('codec-'));
    // A dynamic import: orchestrator.ts reaches this file through the pipeline, not the other way.
    const { Orchestrator } = await import('./orchestrator.js');
    const host = new Orchestrator({ log: createLogger('silent') });
    for (const plugin of await loadPlugins(specs)) host.use(plugin);
    return host.codecs;
  })();
  return builtins;
}

/** The orchestrator's codecs, or the built-in ones when no codec plugin was applied to it. */
export async function codecsOf(orchestrator: Orchestrator): Promise<CodecRegistry> {
  return orchestrator.codecs.list().length > 0 ? orchestrator.codecs : builtinCodecs();
}
