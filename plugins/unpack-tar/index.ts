import { codecsOf, type Orchestrator, type Plugin } from 'ocipull';
import { extractSingleFile } from './extract.js';

const PLUGIN_NAME = 'ocipull-plugin-unpack-tar';

/**
 * The older machine image format (podman's first OCI support): one layer built
 * `FROM scratch` + `COPY ./disk.qcow2.xz /disk.qcow2.xz`, i.e. a tar (plain, gzip or zstd: any
 * registered codec with a stream decoder) holding exactly one regular file whose name is the
 * original file name.
 */
export default class UnpackTarPlugin implements Plugin {
  readonly name = PLUGIN_NAME;

  apply(orchestrator: Orchestrator): void {
    orchestrator.hooks.unpack
      .for('tar')
      .tapPromise(PLUGIN_NAME, async (request) =>
        extractSingleFile(request.input, request.signal, await codecsOf(orchestrator)),
      );
  }
}
