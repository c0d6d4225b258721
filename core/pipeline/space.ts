/**
 * "No room" failures of a write (a full filesystem, a quota, a file-size limit), recognised in an
 * error or its causes, by errno or by the strerror text a child process (zstd, xz) printed.
 */
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';

const TEXTS: Array<[RegExp, string]> = [
  [/no space left on device/i, 'ENOSPC'],
  [/disk quota exceeded/i, 'EDQUOT'],
  [/file too large/i, 'EFBIG'],
];
const ERRNOS = new Set(TEXTS.map(([, errno]) => errno));

/** ENOSPC, EDQUOT or EFBIG when `error` (or a cause of it) is such a failure. */
export function spaceErrno(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && ERRNOS.has(code)) return code;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string') {
      for (const [text, errno] of TEXTS) if (text.test(message)) return errno;
    }
  }
  return undefined;
}

/** Bytes an unprivileged writer may still use on the filesystem holding `path` (or its nearest existing parent). */
export function freeBytes(path: string): number | undefined {
  for (let p = path, i = 0; i < 64; p = dirname(p), i++) {
    try {
      const s = statfsSync(p);
      return s.bavail * s.bsize;
    } catch {
      if (dirname(p) === p) return undefined;
    }
  }
  return undefined;
}

/** `1.5 GiB (1610612736 bytes)`. */
export function formatSize(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit < 0 ? `${n} bytes` : `${value.toFixed(1)} ${units[unit]} (${n} bytes)`;
}

/**
 * What ran out, in words: `no space left on the filesystem holding DIR (ENOSPC): 0 bytes free
 * after 1.9 MiB written; NEEDED needed`. `written` and `needed` are added when known.
 */
export function describeNoSpace(
  errno: string,
  dir: string,
  facts: { written?: number; needed?: number } = {},
): string {
  const what =
    errno === 'EDQUOT'
      ? `the disk quota is exhausted on the filesystem holding ${dir}`
      : errno === 'EFBIG'
        ? `the file grew past the size limit of the filesystem (or process) writing in ${dir}`
        : `no space left on the filesystem holding ${dir}`;
  const free = freeBytes(dir);
  const parts = [`${what} (${errno})`];
  const details: string[] = [];
  if (free !== undefined) details.push(`${formatSize(free)} free`);
  if (facts.written !== undefined) details.push(`after ${formatSize(facts.written)} written`);
  if (facts.needed !== undefined) details.push(`${formatSize(facts.needed)} needed`);
  if (details.length) parts.push(details.join(', '));
  return parts.join(': ');
}
