import { OcipullError } from 'ocipull';
import type { Header } from 'tar-stream';

/** Longest file name a Linux file system takes (a longer one is a hostile header, not a disk). */
const NAME_MAX = 255;

/** Entry types that are a regular file's bytes. */
const REGULAR = new Set(['file', 'contiguous-file']);

/**
 * Check the one entry of a one-file tar layer and return the file name it carries.
 * The name is the original file name (`myimage.qcow2.xz`); a leading `./` is fine, a directory
 * prefix is dropped, an absolute or climbing path is refused.
 */
export function checkEntry(header: Pick<Header, 'name' | 'type'>): string {
  const raw = header.name;
  // A hostile header can carry megabytes of name: show only the start of it.
  const shown = JSON.stringify(raw.length > 200 ? `${raw.slice(0, 200)}…` : raw);
  if (raw.startsWith('/') || raw.startsWith('\\') || /^[A-Za-z]:/.test(raw)) {
    throw new OcipullError('TAR_UNSAFE_PATH', `tar entry ${shown} is an absolute path`, {
      hint: 'the entry must be a relative file name, e.g. disk.qcow2.xz',
    });
  }
  const parts = raw.split(/[/\\]+/).filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new OcipullError('TAR_UNSAFE_PATH', `tar entry ${shown} climbs out of its directory with ..`, {
      hint: 'the entry must be a relative file name, e.g. disk.qcow2.xz',
    });
  }
  const type = header.type ?? 'file';
  if (!REGULAR.has(type)) {
    throw new OcipullError('TAR_ENTRY_NOT_REGULAR', `tar entry ${shown} is a ${type}, not a regular file`, {
      hint: 'a one-file tar layer holds the disk file only (FROM scratch + COPY disk /disk)',
    });
  }
  const name = parts.at(-1);
  if (name === undefined || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new OcipullError('TAR_UNSAFE_PATH', `tar entry ${shown} has no usable file name`);
  }
  if (Buffer.byteLength(name) > NAME_MAX) {
    throw new OcipullError('TAR_UNSAFE_PATH', `tar entry ${shown} has a file name over ${NAME_MAX} bytes`, {
      hint: 'the entry must be a plain file name, e.g. disk.qcow2.xz',
    });
  }
  return name;
}
