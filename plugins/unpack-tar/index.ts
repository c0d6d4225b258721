import { isTarLayerMediaType, type Orchestrator, type Plugin, type UnpackRequest } from 'ocipull';
import { extractSingleFile } from './extract.js';

const PLUGIN_NAME = 'ocipull-plugin-unpack-tar';

/**
 * A titled artifact layer whose media type does not declare a tar is the disk itself, even when
 * its bytes are a tar: an uncompressed wsl disk (`podman-machine.x86_64.wsl.tar`) is a rootfs
 * tarball and must be written as is, not unpacked.
 */
function isDiskThatIsATar({ layer, selection }: UnpackRequest): boolean {
  return selection.title !== undefined && !isTarLayerMediaType(layer.mediaType);
}

/**
 * The older machine image format (podman's first OCI support): one layer built
 * `FROM scratch` + `COPY ./disk.qcow2.xz /disk.qcow2.xz`, i.e. a tar (plain or gzip) holding
 * exactly one regular file whose name is the original file name.
 */
export default class UnpackTarPlugin implements Plugin {
  readonly name = PLUGIN_NAME;

  apply(orchestrator: Orchestrator): void {
    orchestrator.hooks.unpack.for('tar').tapPromise(PLUGIN_NAME, async (request) => {
      if (isDiskThatIsATar(request)) {
        request.log.debug(`${request.selection.title} is a tar disk, not a tar layer: written as is`);
        return { stream: request.input, name: request.selection.title, size: request.layer.size };
      }
      return extractSingleFile(request.input, request.signal);
    });
  }
}
