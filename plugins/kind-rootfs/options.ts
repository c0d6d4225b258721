/**
 * The rootfs kind's settings (`kinds.rootfs` of the config, the pull flags `--format`, `--size`):
 * read once per plan and checked together, so a flag that cannot apply fails before anything is
 * fetched, with ROOTFS_OPTION_INVALID naming what is accepted.
 */
import { OcipullError, parseSize } from 'ocipull';
import type { Limits } from './apply/limits.js';

export const FORMATS = ['tree', 'tar', 'ext4', 'erofs'] as const;
export type RootfsFormat = (typeof FORMATS)[number];

/** `kinds.rootfs` settings as written (a size may carry a unit). */
export interface RootfsSettings {
  /** `tree` (default): the directory; `tar`, `ext4`, `erofs`: a file made from it. */
  format?: RootfsFormat;
  /** ext4 / erofs size: bytes, or `512M`, `2G`, `1.5GiB` (default: the content plus headroom). */
  size?: number | string;
  limits?: Partial<Limits>;
  /** URL prefixes a non-distributable layer's `urls` may start with for it to be pulled. */
  allowUrls?: string[];
  /** Apply owners and devices (default: running as root). */
  asRoot?: boolean;
}

/** The settings checked: the size in bytes. */
export interface RootfsOptions {
  format: RootfsFormat;
  size?: number;
  limits?: Partial<Limits>;
  allowUrls: string[];
  asRoot?: boolean;
}

const LIMIT_KEYS = ['layerBytes', 'imageBytes', 'layerEntries', 'imageEntries'] as const;

function invalid(message: string, hint: string, key: string): OcipullError {
  return new OcipullError('ROOTFS_OPTION_INVALID', message, { hint, data: { key } });
}

/** The `kinds.rootfs` settings of a run, checked (ROOTFS_OPTION_INVALID naming what is accepted). */
export function rootfsOptions(settings: unknown): RootfsOptions {
  const kinds = (settings as { kinds?: Record<string, unknown> }).kinds;
  const raw = (kinds?.rootfs ?? {}) as Record<string, unknown>;
  const format = raw.format ?? 'tree';
  if (!FORMATS.includes(format as RootfsFormat)) {
    throw invalid(
      `the rootfs format ${JSON.stringify(format)} is not one ocipull writes`,
      `--format (kinds.rootfs.format) is one of ${FORMATS.join(', ')}`,
      'format',
    );
  }
  let size: number | undefined;
  if (raw.size !== undefined) {
    size = parseSize(raw.size);
    if (size === undefined || size === 0 || (typeof raw.size === 'number' && !Number.isInteger(raw.size))) {
      throw invalid(
        `the rootfs size ${JSON.stringify(raw.size)} is not a size`,
        '--size (kinds.rootfs.size) is a number of bytes or a number with a unit: 512M, 2G, 1.5GiB',
        'size',
      );
    }
    if (format !== 'ext4' && format !== 'erofs') {
      throw invalid(
        `--size (kinds.rootfs.size) sizes a disk, and the rootfs format is ${format}`,
        '--size goes with --format ext4 or --format erofs; a tree or a tar takes the size of its content',
        'size',
      );
    }
  }
  const limits = raw.limits as Record<string, unknown> | undefined;
  if (limits !== undefined) {
    const bad =
      typeof limits !== 'object' || limits === null || Array.isArray(limits)
        ? 'limits'
        : Object.entries(limits).find(
            ([key, value]) =>
              !LIMIT_KEYS.includes(key as (typeof LIMIT_KEYS)[number]) ||
              !(Number.isSafeInteger(value) && (value as number) >= 0),
          )?.[0];
    if (bad !== undefined) {
      throw invalid(
        `kinds.rootfs.${bad === 'limits' ? 'limits' : `limits.${bad}`} is not a limit`,
        `kinds.rootfs.limits holds ${LIMIT_KEYS.join(', ')}, each a number (bytes or entries)`,
        'limits',
      );
    }
  }
  const allowUrls = raw.allowUrls ?? [];
  if (!Array.isArray(allowUrls) || allowUrls.some((u) => typeof u !== 'string' || u === '')) {
    throw invalid(
      'kinds.rootfs.allowUrls is not a list of URL prefixes',
      'e.g. "allowUrls": ["https://mcr.microsoft.com/"]',
      'allowUrls',
    );
  }
  if (raw.asRoot !== undefined && typeof raw.asRoot !== 'boolean') {
    throw invalid('kinds.rootfs.asRoot is not true or false', 'true or false', 'asRoot');
  }
  return {
    format: format as RootfsFormat,
    ...(size === undefined ? {} : { size }),
    ...(limits === undefined ? {} : { limits: limits as Partial<Limits> }),
    allowUrls: allowUrls as string[],
    ...(raw.asRoot === undefined ? {} : { asRoot: raw.asRoot as boolean }),
  };
}
