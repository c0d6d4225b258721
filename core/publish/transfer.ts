/**
 * Moving content into a destination, shared by `pack` and `copy`: blobs the destination has
 * are skipped, blobs another repository of the same registry has are mounted, the rest are
 * uploaded; each digest at most once per run.
 */
import { Readable } from 'node:stream';
import { digestOf } from '../oci/digest.js';
import type { BlobBody, Descriptor, Destination, Logger, ManifestEntry, Source } from '../types.js';

export interface TransferStats {
  pushed: number;
  skipped: number;
  mounted: number;
  /** Bytes uploaded (skipped and mounted blobs not counted). */
  bytes: number;
}

export class Transfer {
  readonly stats: TransferStats = { pushed: 0, skipped: 0, mounted: 0, bytes: 0 };
  private readonly done = new Map<string, Promise<void>>();

  constructor(
    private readonly destination: Source & Destination,
    private readonly signal: AbortSignal,
    private readonly log: Logger,
  ) {}

  /** Put one blob at the destination (once per digest). `from`: a source it may be mounted from. */
  blob(descriptor: Descriptor, body: () => BlobBody, from?: Source): Promise<void> {
    let pending = this.done.get(descriptor.digest);
    if (!pending) {
      pending = this.send(descriptor, body, from);
      this.done.set(descriptor.digest, pending);
      pending.catch(() => this.done.delete(descriptor.digest));
    }
    return pending;
  }

  private async send(descriptor: Descriptor, body: () => BlobBody, from?: Source): Promise<void> {
    const dest = this.destination;
    if (await dest.hasBlob(descriptor, this.signal)) {
      this.stats.skipped++;
      this.log.debug(`${dest.reference}: blob ${descriptor.digest} exists, skipped`);
      return;
    }
    if (from && dest.mountBlob && (await dest.mountBlob(descriptor, from, this.signal))) {
      this.stats.mounted++;
      this.log.debug(`${dest.reference}: blob ${descriptor.digest} mounted from ${from.reference}`);
      return;
    }
    await dest.pushBlob(descriptor, body(), this.signal);
    this.stats.pushed++;
    this.stats.bytes += descriptor.size;
    this.log.debug(`${dest.reference}: blob ${descriptor.digest} (${descriptor.size} bytes) pushed`);
  }

  /** Put a manifest or index: under `tag`, or by its digest; `entry`: its source index entry's platform and annotations. */
  manifest(bytes: Buffer, mediaType: string, tag?: string, entry?: ManifestEntry): Promise<Descriptor> {
    return this.destination.pushManifest(bytes, mediaType, tag ?? digestOf(bytes), this.signal, entry);
  }
}

/** A body for bytes held in memory (the empty config, inline `data`). */
export function bufferBody(bytes: Buffer): BlobBody {
  return { open: async (offset = 0) => Readable.from([bytes.subarray(offset)]) };
}
