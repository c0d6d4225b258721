/**
 * Disk formats by their magic bytes, so what is written (pull) or published (pack) is checked
 * against what its title and disk type claim. A format with no magic (raw) is "none of these".
 */
import { OcipullError } from './errors/errors.js';

interface Magic {
  format: string;
  offset: number;
  bytes: string;
}

/** qcow2 (QEMU), vhdx (Hyper-V), sparse vmdk, dynamic vhd (a fixed vhd is raw + a footer), tar. */
export const DISK_MAGICS: readonly Magic[] = [
  { format: 'qcow2', offset: 0, bytes: 'QFI\xfb' },
  { format: 'vhdx', offset: 0, bytes: 'vhdxfile' },
  { format: 'vmdk', offset: 0, bytes: 'KDMV' },
  { format: 'vhd', offset: 0, bytes: 'conectix' },
  { format: 'tar', offset: 257, bytes: 'ustar' },
];

/** Bytes of the disk's start needed to tell every format above. */
export const DISK_HEAD_BYTES = 512;

/** Formats a raw disk is published as: none of the magics may be there. */
const RAW = new Set(['raw']);

/** The format whose magic `head` carries, or undefined (raw, or something unknown). */
export function diskFormatOfBytes(head: Uint8Array): string | undefined {
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  return DISK_MAGICS.find(
    (m) =>
      buf.length >= m.offset + m.bytes.length &&
      buf.toString('latin1', m.offset, m.offset + m.bytes.length) === m.bytes,
  )?.format;
}

/**
 * DISK_FORMAT_MISMATCH unless `head` fits `expected`: a format with a magic needs it (a vhd may
 * also be fixed, magic-less), raw must carry none. Other names (`img`, `iso`, ...) are not checked:
 * `.img` is raw for some publishers and qcow2 for others.
 */
export function checkDiskFormat(head: Uint8Array, expected: string | undefined, claimedBy: string): void {
  if (expected === undefined) return;
  const want = expected.toLowerCase();
  const found = diskFormatOfBytes(head);
  const hasMagic = DISK_MAGICS.some((m) => m.format === want);
  const fits = hasMagic
    ? found === want || (want === 'vhd' && found === undefined)
    : !RAW.has(want) || !found;
  if (fits) return;
  const magic = DISK_MAGICS.find((m) => m.format === want);
  const foundText = found ? `a ${found} disk` : `not a ${want} disk (${describeHead(head)})`;
  throw new OcipullError('DISK_FORMAT_MISMATCH', `${claimedBy} says ${want}, but the disk is ${foundText}`, {
    hint: magic
      ? `a ${want} disk starts with ${JSON.stringify(magic.bytes)} at byte ${magic.offset}; publish each disk under the title and disk type of its real format`
      : `a ${want} disk carries no other format's magic; publish each disk under the title and disk type of its real format`,
    data: { expected: want, found: found ?? 'unknown' },
  });
}

function describeHead(head: Uint8Array): string {
  if (head.length === 0) return 'it is empty';
  return `it starts with ${Buffer.from(head.subarray(0, 8)).toString('hex')}`;
}
