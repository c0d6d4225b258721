/**
 * Opening the files of an OCI layout without trusting them: only regular files that stay inside
 * the layout directory, opened so that a FIFO can never block the run (stat before opening,
 * O_NONBLOCK where the platform has it, fstat after), and read no further than their size.
 */
import { constants, promises as fsp, type Stats } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { OcipullError } from '../errors/errors.js';

// Windows has neither O_NONBLOCK nor FIFOs in its file systems: the stat before opening guards it.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

export interface LayoutFile {
  handle: fsp.FileHandle;
  /** Size of the open file (fstat). */
  size: number;
  path: string;
}

function kindOf(stat: Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

function fileInvalid(path: string, what: string, problem: string): OcipullError {
  return new OcipullError('LAYOUT_FILE_INVALID', `${what} ${path} ${problem}`, {
    hint: 'a layout holds regular files only (oci-layout, index.json, blobs/<alg>/<hex>), inside its directory; copy it again (skopeo copy, ocipull copy)',
    data: { path },
  });
}

/** Whether `path` resolves (symlinks followed) to somewhere inside `dir`. */
async function staysInside(dir: string, path: string): Promise<boolean> {
  const [root, real] = await Promise.all([fsp.realpath(dir), fsp.realpath(path)]);
  const rel = relative(root, real);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/**
 * Open `path`, a file of the layout `dir`, for reading. LAYOUT_FILE_INVALID when it is not a
 * regular file (FIFO, device, directory, socket) or resolves outside the layout; errors of the
 * file system (ENOENT...) are thrown as they are, for the caller to say what is missing.
 */
export async function openLayoutFile(dir: string, path: string, what: string): Promise<LayoutFile> {
  const before = await fsp.stat(path);
  if (!before.isFile()) throw fileInvalid(path, what, `is ${kindOf(before)}; a regular file was expected`);
  if (!(await staysInside(dir, path))) {
    throw fileInvalid(
      path,
      what,
      `leads out of the layout ${dir} (a symlink); a regular file inside it was expected`,
    );
  }
  const handle = await fsp.open(path, OPEN_FLAGS);
  try {
    const stat = await handle.stat();
    // Swapped between the two checks: the descriptor is what is read, so it decides.
    if (!stat.isFile()) throw fileInvalid(path, what, `is ${kindOf(stat)}; a regular file was expected`);
    return { handle, size: stat.size, path };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * Read a whole layout file of at most `limit` bytes (`tooLarge` builds the error past it), never
 * more than the size the open file has: a file that grows while read is cut at that size.
 */
export async function readLayoutFile(
  dir: string,
  path: string,
  what: string,
  limit: number,
  tooLarge: (size: number) => Error,
): Promise<Buffer> {
  const { handle, size } = await openLayoutFile(dir, path, what);
  try {
    if (size > limit) throw tooLarge(size);
    const bytes = Buffer.alloc(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return bytes.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
