import type { TransportOptions } from './types.js';

/**
 * What one run works with: config (file, presets) with CLI flags laid over it, defaults filled.
 * Plugins read it from `orchestrator.settings`; it is frozen.
 */
export interface Settings {
  /** Source used when `pull` is given none. */
  defaultSource: string;
  /** Version whose `<major>.<minor>` tags a registry reference that names no tag. */
  machineOsVersion: string;
  /** Artifact kind to pull or pack (`disk`, ...): the name of a registered kind. */
  kind: string;
  /** Hypervisor / disktype to select. */
  diskType: string;
  os: string;
  arch: string;
  /** CPU variant to require (`v8` for arm64/v8), when asked for (`--platform OS/ARCH/VARIANT`). */
  variant?: string;
  /** Kernel kind: the kernel version (`os.version`) a target must have, when asked for. */
  kernelVersion?: string;
  /** Kernel kind: build options (`KEY=VALUE`, `os.features`) a target must have. */
  features?: string[];
  /** Disk format the preset expects (qcow2, raw, vhdx, tar). */
  format?: string;
  allowMissingTitle: boolean;
  /** Output naming when -o is a directory or absent: `{name}`, `{arch}`, `{format}`, `{diskType}`. */
  outputName: string;
  /** The `{name}` of `outputName`. */
  machineName: string;
  /**
   * Write holes for zero runs. Unset (the default): sparse when the disk's format is `raw` or
   * `img`, dense otherwise.
   */
  sparse?: boolean;
  replace: boolean;
  cacheDir: string;
  /** Cache plugin settings (`cache` in config). */
  cache: Record<string, unknown>;
  /** Stop decompression past this many output bytes per input byte (0: no limit). */
  maxExpansionRatio: number;
  /** Reconnects per blob after a transient failure mid-body. */
  blobRetries: number;
  /** Parts of a pull (layers) fetched at the same time, at most. */
  concurrency: number;
  /** Connections fetching ranges of one large blob in parallel (1: one stream). */
  connections: number;
  /**
   * Start with one range connection and add the others only when they help (a slow first answer,
   * a decoder left waiting for the network); false: all `connections` from the start.
   */
  connectionsOnDemand: boolean;
  /** Bytes per ranged request; blobs under two of them are fetched as one stream. */
  rangeChunkSize: number;
  transport: TransportOptions;
  /**
   * Settings of one artifact kind, by kind name (`kinds.rootfs.format`, ...): read by that kind's
   * plugin, which checks them. Presets, the config file and the command line merge per kind.
   */
  kinds: Record<string, Record<string, unknown>>;
  /** Free-form settings for third-party plugins, by plugin name. */
  plugins: Record<string, unknown>;
}

export const DEFAULT_SETTINGS: Omit<Settings, 'arch' | 'cacheDir' | 'diskType'> = {
  defaultSource: 'docker://quay.io/podman/machine-os',
  kind: 'disk',
  machineOsVersion: '5.5',
  os: 'linux',
  allowMissingTitle: false,
  outputName: '{name}-{arch}.{format}',
  machineName: 'podman-machine-default',
  replace: false,
  cache: {},
  // Far above real disks (a sparse raw image runs to ~100×), far below a bomb (zstd reaches ~30000×).
  maxExpansionRatio: 1000,
  blobRetries: 5,
  concurrency: 3,
  connections: 4,
  connectionsOnDemand: true,
  rangeChunkSize: 8 * 1024 * 1024,
  transport: {},
  kinds: {},
  plugins: {},
};
