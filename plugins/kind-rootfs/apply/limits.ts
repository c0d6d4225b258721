import { formatSize, OcipullError } from 'ocipull';

/** How much one layer and the whole image may unpack to. */
export interface Limits {
  /** Bytes of file content one layer may write. */
  layerBytes: number;
  /** Entries (files, directories, links, whiteouts, ...) one layer may hold. */
  layerEntries: number;
  /** Bytes of file content all layers together may write. */
  imageBytes: number;
  /** Entries all layers together may hold. */
  imageEntries: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  layerBytes: 64 * 1024 ** 3,
  layerEntries: 2_000_000,
  imageBytes: 64 * 1024 ** 3,
  imageEntries: 4_000_000,
});

/**
 * What an image has used of its limits, shared by the layers applied into one tree. Every entry is
 * counted (and its declared size charged) before anything of it is written, so a bomb stops with
 * LAYER_ENTRY_LIMIT / LAYER_SIZE_LIMIT before it fills the disk.
 */
export class Budget {
  readonly limits: Limits;
  bytes = 0;
  entries = 0;

  constructor(limits: Partial<Limits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** The counter of one layer (`label` names it in errors). */
  layer(label: string): LayerBudget {
    return new LayerBudget(this, label);
  }
}

export class LayerBudget {
  bytes = 0;
  entries = 0;

  constructor(
    private readonly image: Budget,
    private readonly label: string,
  ) {}

  /** Count one entry of `size` content bytes; throws before the limits are passed. */
  charge(name: string, size: number): void {
    const { limits } = this.image;
    if (this.entries + 1 > limits.layerEntries) {
      throw this.tooMany('layer', limits.layerEntries, 'layerEntries');
    }
    if (this.image.entries + 1 > limits.imageEntries) {
      throw this.tooMany('image', limits.imageEntries, 'imageEntries');
    }
    if (this.bytes + size > limits.layerBytes)
      throw this.tooBig('layer', name, limits.layerBytes, 'layerBytes');
    if (this.image.bytes + size > limits.imageBytes) {
      throw this.tooBig('image', name, limits.imageBytes, 'imageBytes');
    }
    this.entries++;
    this.image.entries++;
    this.bytes += size;
    this.image.bytes += size;
  }

  private tooMany(scope: string, limit: number, key: string): OcipullError {
    return new OcipullError(
      'LAYER_ENTRY_LIMIT',
      `${this.label}: the ${scope} holds more than ${limit} entries (the limit)`,
      { hint: `raise the limit (${key}) if the image is trusted`, data: { scope, limit } },
    );
  }

  private tooBig(scope: string, name: string, limit: number, key: string): OcipullError {
    const used = scope === 'layer' ? this.bytes : this.image.bytes;
    return new OcipullError(
      'LAYER_SIZE_LIMIT',
      `${this.label}: the ${scope} unpacks to more than ${formatSize(limit)} (${formatSize(used)} written before ${JSON.stringify(name.slice(0, 200))})`,
      { hint: `raise the limit (${key}) if the image is trusted`, data: { scope, limit, used } },
    );
  }
}
