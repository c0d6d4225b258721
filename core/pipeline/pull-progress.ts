import type { Hooks } from '../hooks.js';

export const PROGRESS_INTERVAL_MS = 250;

/**
 * Progress of a pull's parts as one: download events carry the bytes of every part so far and the
 * total of their sizes (one part: its position and size, as before), at most every 250 ms, and the
 * event reaching the total is never skipped, so a display ends at 100%. Decompress and write
 * events carry the sum of the parts' output bytes.
 */
export class PullProgress {
  private readonly positions: number[];
  private readonly written: number[];
  private readonly total: number;
  private lastDownload = 0;

  constructor(
    private readonly hooks: Hooks,
    sizes: number[],
  ) {
    this.positions = sizes.map(() => 0);
    this.written = sizes.map(() => 0);
    this.total = sizes.reduce((a, b) => a + b, 0);
  }

  /** Part `index` is at `position` in its blob (a resumed download starts past 0). */
  download(index: number, position: number): void {
    this.positions[index] = position;
    const bytes = this.positions.reduce((a, b) => a + b, 0);
    const now = Date.now();
    if (now - this.lastDownload >= PROGRESS_INTERVAL_MS || bytes >= this.total) {
      this.lastDownload = now;
      this.hooks.progress.call({ phase: 'download', bytes, total: this.total });
    }
  }

  /** Part `index` has written `bytes` of output so far. */
  decompress(index: number, bytes: number): void {
    this.written[index] = bytes;
    this.hooks.progress.call({ phase: 'decompress', bytes: this.sum() });
  }

  /** Part `index` is written, `bytes` in all. */
  write(index: number, bytes: number): void {
    this.written[index] = bytes;
    this.hooks.progress.call({ phase: 'write', bytes: this.sum() });
  }

  /** Output bytes of every part. */
  sum(): number {
    return this.written.reduce((a, b) => a + b, 0);
  }
}
