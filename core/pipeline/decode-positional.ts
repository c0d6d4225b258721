/**
 * Positional writes into the output from a decoder thread: aligned 4 KiB zero blocks stay holes
 * when sparse. Also the package export `ocipull/decoder-thread`, for codec plugins' own worker
 * threads (which should not load the whole public entry).
 */
import { writeSync } from 'node:fs';

const BLOCK = 4096;
const ZERO = Buffer.alloc(BLOCK);

/** A writer of `bytes` at `position` of `fd`, skipping whole zero 4 KiB blocks when `sparse`. */
export function positionalWriter(fd: number, sparse: boolean): (bytes: Buffer, position: number) => void {
  const zero = (bytes: Buffer, at: number, end: number) =>
    sparse && end - at === BLOCK && bytes.compare(ZERO, 0, BLOCK, at, end) === 0;
  return (bytes, position) => {
    let at = 0;
    while (at < bytes.length) {
      const blockEnd = Math.min(bytes.length, at + BLOCK - ((position + at) % BLOCK));
      if (zero(bytes, at, blockEnd)) {
        at = blockEnd;
        continue;
      }
      let end = blockEnd;
      while (end < bytes.length) {
        const next = Math.min(bytes.length, end + BLOCK);
        if (zero(bytes, end, next)) break;
        end = next;
      }
      let done = at;
      while (done < end) done += writeSync(fd, bytes, done, end - done, position + done);
      at = end;
    }
  };
}
