/**
 * Finding zstd frames in a stream as it arrives (RFC 8878 §3.1): a frame's header gives its
 * Frame_Content_Size (when it has one), and walking its block headers gives its end; a
 * skippable frame (the seek table of `pack --compress zstd`) gives its length at once. Nothing is
 * decoded here: a frame whose blocks lie is found out by its decoder.
 */

const ZSTD_MAGIC = 0xfd2fb528;
/** Block_Maximum_Size: no block is bigger (RFC 8878 §3.1.1.2.4). */
const MAX_BLOCK = 128 << 10;

export class ScanError extends Error {
  constructor(
    message: string,
    readonly kind: 'corrupt' | 'trailing',
  ) {
    super(message);
  }
}

/** The bytes of the frame being scanned, as they arrive; the oldest may be taken away. */
export class ByteQueue {
  private chunks: Buffer[] = [];
  /** Frame offset of the first byte held. */
  start = 0;
  /** Frame offset just past the last byte held. */
  end = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.end += chunk.length;
  }

  get held(): number {
    return this.end - this.start;
  }

  /** `n` bytes from frame offset `at` (all held), little endian. */
  uint(at: number, n: number): number {
    let value = 0;
    for (let i = n - 1; i >= 0; i--) value = value * 256 + this.byte(at + i);
    return value;
  }

  private byte(at: number): number {
    let offset = at - this.start;
    for (const chunk of this.chunks) {
      if (offset < chunk.length) return chunk[offset]!;
      offset -= chunk.length;
    }
    throw new RangeError(`byte ${at} is not held`);
  }

  /** The bytes held up to frame offset `until`, copied into their own (transferable) memory. */
  take(until: number): Uint8Array {
    const bytes = new Uint8Array(until - this.start);
    let at = 0;
    while (at < bytes.length) {
      const chunk = this.chunks[0]!;
      const n = Math.min(chunk.length, bytes.length - at);
      bytes.set(chunk.subarray(0, n), at);
      at += n;
      if (n === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(n);
    }
    this.start = until;
    return bytes;
  }

  /** Drop the bytes held up to `until`. */
  drop(until: number): void {
    let n = until - this.start;
    while (n > 0) {
      const chunk = this.chunks[0]!;
      if (n >= chunk.length) {
        this.chunks.shift();
        n -= chunk.length;
      } else {
        this.chunks[0] = chunk.subarray(n);
        n = 0;
      }
    }
    this.start = until;
  }

  /** What is held past the current frame's end becomes the next frame (offset 0). */
  rebase(frameEnd: number): void {
    this.start -= frameEnd;
    this.end -= frameEnd;
  }

  /** Everything held, for replaying it into another decoder. */
  rest(): Buffer[] {
    return this.chunks;
  }
}

export interface ScannedFrame {
  skippable: boolean;
  /** The frame's Frame_Content_Size, when its header has one. */
  contentSize?: number;
  /** The frame's compressed length, once its end is found. */
  length?: number;
}

/** Scans one frame of a ByteQueue, resuming where it stopped as more bytes arrive. */
export class FrameScanner {
  frame: ScannedFrame | undefined;
  /** Frame offset of the next block header (or of the checksum, once the last block is seen). */
  private next = 0;
  private lastBlock = false;
  private checksum = 0;

  /** Frame offset before which the scanner needs no byte again. */
  get scanned(): number {
    return this.frame?.skippable ? (this.frame.length ?? 0) : this.next;
  }

  /** Advance over the bytes held; returns the frame when its end is known. */
  advance(queue: ByteQueue): ScannedFrame | undefined {
    if (!this.frame && !this.header(queue)) return undefined;
    const frame = this.frame!;
    while (frame.length === undefined) {
      if (this.lastBlock) {
        frame.length = this.next + this.checksum;
        break;
      }
      if (queue.end < this.next + 3) return undefined;
      const header = queue.uint(this.next, 3);
      this.lastBlock = (header & 1) === 1;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      if (type === 3)
        throw new ScanError(`a block at frame offset ${this.next} has the reserved type`, 'corrupt');
      if (size > MAX_BLOCK)
        throw new ScanError(
          `a block at frame offset ${this.next} says ${size} bytes (at most ${MAX_BLOCK})`,
          'corrupt',
        );
      this.next += 3 + (type === 1 ? 1 : size);
    }
    return frame.length <= queue.end ? frame : undefined;
  }

  /** Read the frame header once its bytes are held; false while they are not. */
  private header(queue: ByteQueue): boolean {
    if (queue.end < 4) return false;
    const magic = queue.uint(0, 4);
    if (magic >>> 4 === 0x184d2a5) {
      if (queue.end < 8) return false;
      this.frame = { skippable: true, length: 8 + queue.uint(4, 4) };
      return true;
    }
    if (magic !== ZSTD_MAGIC)
      throw new ScanError(`0x${magic.toString(16).padStart(8, '0')} starts no frame`, 'trailing');
    if (queue.end < 5) return false;
    const descriptor = queue.uint(4, 1);
    if (descriptor & 0x08) throw new ScanError('a frame header has its reserved bit set', 'corrupt');
    const single = (descriptor & 0x20) !== 0;
    const fcsFlag = descriptor >> 6;
    const didBytes = [0, 1, 2, 4][descriptor & 3]!;
    const fcsBytes = [single ? 1 : 0, 2, 4, 8][fcsFlag]!;
    const fcsAt = 5 + (single ? 0 : 1) + didBytes;
    const headerEnd = fcsAt + fcsBytes;
    if (queue.end < headerEnd) return false;
    let contentSize: number | undefined;
    if (fcsBytes > 0) contentSize = queue.uint(fcsAt, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
    this.frame = { skippable: false, contentSize };
    this.next = headerEnd;
    this.checksum = descriptor & 0x04 ? 4 : 0;
    return true;
  }
}
