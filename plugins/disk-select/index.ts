import { codecsOf, type Orchestrator, type Plugin } from 'ocipull';
import { diskKind } from './kind.js';
import { selectDisk } from './select.js';

const PLUGIN_NAME = 'ocipull-plugin-disk-select';

/** The hypervisors machine-os publishes disks for (the `disktype` annotation values). */
export const DISK_TYPES: readonly string[] = ['qemu', 'applehv', 'hyperv', 'wsl'];

export interface DiskSelectOptions {
  /** More disk types to answer for, beyond qemu, applehv, hyperv and wsl. */
  diskTypes?: string[];
  /** How deep nested indexes may go (default 4). */
  maxDepth?: number;
  /** How many index entries a walk visits at most, each index counted once (default 10000). */
  maxEntries?: number;
}

/**
 * Picks the disk of a machine-os index: the entry whose `disktype` annotation, os and
 * architecture fit the request (x86_64 ≡ amd64, aarch64 ≡ arm64), then checks that its manifest
 * is a one-layer artifact with a usable `org.opencontainers.image.title`.
 */
export default class DiskSelectPlugin implements Plugin {
  readonly name = PLUGIN_NAME;
  private readonly diskTypes: string[];
  private readonly maxDepth: number;
  private readonly maxEntries?: number;

  constructor(options: DiskSelectOptions = {}) {
    const extra = Array.isArray(options.diskTypes)
      ? options.diskTypes.filter((t) => typeof t === 'string' && t !== '')
      : [];
    this.diskTypes = [...new Set([...DISK_TYPES, ...extra])];
    this.maxDepth = typeof options.maxDepth === 'number' && options.maxDepth >= 0 ? options.maxDepth : 4;
    if (Number.isSafeInteger(options.maxEntries) && options.maxEntries! > 0)
      this.maxEntries = options.maxEntries;
  }

  apply(orchestrator: Orchestrator): void {
    for (const diskType of this.diskTypes) {
      orchestrator.hooks.select.for(diskType).tapPromise(PLUGIN_NAME, async (request) => {
        // The codec records' extensions (the built-in ones when no codec plugin is applied).
        const codecs = await codecsOf(orchestrator);
        const codecForExtension = (ext: string) => codecs.byExtension(ext)?.name;
        return selectDisk(request, {
          maxDepth: this.maxDepth,
          maxEntries: this.maxEntries,
          codecForExtension,
        });
      });
    }
    orchestrator.kinds.register(diskKind);
  }
}
