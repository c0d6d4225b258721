import type { Orchestrator, Plugin } from 'ocipull';
import { fetchBlob } from './fetch.js';
import { withPush } from './push.js';
import { resolveLayout } from './source.js';

const PLUGIN_NAME = 'ocipull-plugin-oci-dir';

export interface OciDirOptions {
  /** Schemes to answer for (default `oci-dir` and skopeo's `oci`). */
  schemes?: string[];
}

/**
 * Reads local OCI image layouts (image-spec image-layout.md): `oci-dir:PATH[:TAG|@DIGEST]`,
 * `oci-dir://PATH...` and skopeo's `oci:PATH...`. Nested indexes are followed by the core's
 * `load`, blobs are streamed from `blobs/<alg>/<hex>` (from an offset, for resumed downloads).
 */
export default class OciDirPlugin implements Plugin {
  readonly name = PLUGIN_NAME;
  private readonly schemes: string[];

  constructor(options: OciDirOptions = {}) {
    const schemes = Array.isArray(options.schemes)
      ? options.schemes.filter((s) => typeof s === 'string' && s)
      : [];
    this.schemes = schemes.length ? schemes : ['oci-dir', 'oci'];
  }

  apply(orchestrator: Orchestrator): void {
    for (const scheme of this.schemes) {
      orchestrator.hooks.resolve.for(scheme).tapPromise(PLUGIN_NAME, async (request) => {
        const source = await resolveLayout(request);
        return request.purpose === 'push' ? withPush(source) : source;
      });
      orchestrator.hooks.fetch.for(scheme).tapPromise(PLUGIN_NAME, fetchBlob);
    }
  }
}

export { formatLayoutReference, type LayoutReference, parseLayoutReference } from './reference.js';
export { LayoutSource } from './source.js';
