import type { Orchestrator, Plugin } from 'ocipull';

const PLUGIN_NAME = 'ocipull-plugin-unpack-blob';

/**
 * Today's machine-os format: the layer blob is the (compressed) disk file itself, so the layer
 * stream is handed on untouched and the title names the file.
 */
export default class UnpackBlobPlugin implements Plugin {
  readonly name = PLUGIN_NAME;

  apply(orchestrator: Orchestrator): void {
    orchestrator.hooks.unpack
      .for('blob')
      .tapPromise(PLUGIN_NAME, async ({ input, layer, selection, part }) => ({
        stream: input,
        name: part?.decode.name ?? selection.title,
        size: layer.size,
      }));
  }
}
