import { OcipullError, parseSize } from 'ocipull';

export type Policy = 'none' | 'on-miss' | 'after-use' | 'lru';

/** The `cache` section of the config, checked and with defaults. */
export interface CacheSettings {
  policy: Policy;
  /** With `lru`: stay under this many bytes. */
  maxSize?: number;
  /** Keep decompressed disks and clone them for later pulls. */
  decompressed: boolean;
  /** A lock not refreshed for this long belongs to a dead process and is taken over. */
  lockStaleMs: number;
  /** `prune` without flags removes partials not touched for this long. */
  partialMaxAgeMs: number;
  /**
   * `boot` (default): a new entry is not fsynced; its record names the boot, and in another boot
   * the entry is rehashed before use. `fsync`: every entry is fsynced before it is visible.
   */
  durability: Durability;
}

export type Durability = 'boot' | 'fsync';

const POLICIES: Policy[] = ['none', 'on-miss', 'after-use', 'lru'];
/** `cache.maxSize`: `20GB`, `512MiB`, `8G` or a number of bytes (the core's `parseSize`). */
export function parseCacheSize(value: unknown): number {
  const bytes = parseSize(value);
  if (bytes === undefined) {
    throw new OcipullError('CONFIG_INVALID', `cache.maxSize ${JSON.stringify(value)} is not a size`, {
      hint: 'a number of bytes or a number with a unit: 500MB, 20GB, 8GiB',
    });
  }
  return bytes;
}

export function normalizeSettings(
  raw: Record<string, unknown>,
  options: Record<string, unknown> = {},
): CacheSettings {
  const merged = { ...options, ...raw };
  const policy = (merged.policy ?? 'none') as Policy;
  if (!POLICIES.includes(policy)) {
    throw new OcipullError('CONFIG_INVALID', `cache.policy ${JSON.stringify(policy)} is not a policy`, {
      hint: `one of ${POLICIES.join(', ')}`,
    });
  }
  const maxSize = merged.maxSize === undefined ? undefined : parseCacheSize(merged.maxSize);
  if (policy === 'lru' && maxSize === undefined) {
    throw new OcipullError('CONFIG_INVALID', 'cache.policy lru needs cache.maxSize', {
      hint: 'e.g. cache: { policy: lru, maxSize: 20GB }',
    });
  }
  const durability = (merged.durability ?? 'boot') as Durability;
  if (durability !== 'boot' && durability !== 'fsync') {
    throw new OcipullError(
      'CONFIG_INVALID',
      `cache.durability ${JSON.stringify(durability)} is not a durability`,
      { hint: 'boot (rehash entries written in another boot) or fsync (fsync every entry)' },
    );
  }
  const lockStaleMs = Number(merged.lockStaleMs ?? 10_000);
  return {
    policy,
    maxSize,
    decompressed: merged.decompressed === true,
    lockStaleMs: Number.isFinite(lockStaleMs) && lockStaleMs >= 1000 ? lockStaleMs : 10_000,
    partialMaxAgeMs: Number(merged.partialMaxAgeMs ?? 7 * 24 * 3600_000),
    durability,
  };
}
