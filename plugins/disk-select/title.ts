import { OcipullError } from 'ocipull';

/** What a layer title says about the file: `podman-machine.x86_64.qemu.qcow2.zst` → qcow2 + zst. */
export interface ParsedTitle {
  /** Disk format: the second-to-last extension, or the last one for an uncompressed disk. */
  format: string;
  /** The codec extension as written (`zst`); undefined for an uncompressed disk. */
  codecExtension?: string;
}

/** Disk formats a title may end with when the disk is stored uncompressed. */
export const DISK_FORMATS: readonly string[] = ['qcow2', 'raw', 'img', 'vhdx', 'vhd', 'vmdk', 'tar', 'iso'];

const EXTENSION = /^[A-Za-z0-9_-]+$/;
const MAX_NAME_BYTES = 255;

function invalid(title: string, problem: string): OcipullError {
  return new OcipullError('ARTIFACT_TITLE_INVALID', `layer title ${JSON.stringify(title)} ${problem}`, {
    hint: 'a plain file name ending in <format>.<codec>, e.g. podman-machine.x86_64.qemu.qcow2.zst (or <format> alone when uncompressed)',
  });
}

/**
 * Check that a title is a plain file name and read format and codec from its last two extensions.
 * `isCodecExtension` says which extensions name a codec: the codec records' extensions
 * (`CodecRegistry.byExtension`), third-party codecs included. Without it none is known, and the
 * shape decides: a last extension after a format, that is no disk format itself, is a codec's.
 */
export function parseTitle(
  title: string,
  isCodecExtension: (ext: string) => boolean = () => false,
): ParsedTitle {
  if (title === '') throw invalid(title, 'is empty');
  if (/[\u0000-\u001f\u007f]/.test(title)) throw invalid(title, 'contains control characters');
  if (title.includes('/') || title.includes('\\')) throw invalid(title, 'is a path, not a plain file name');
  if (Buffer.byteLength(title) > MAX_NAME_BYTES)
    throw invalid(title, `is longer than ${MAX_NAME_BYTES} bytes`);
  const parts = title.split('.');
  if (parts[0] === '') throw invalid(title, 'has no name before its extensions');
  const last = parts.at(-1)!.toLowerCase();
  const previous = parts.length >= 3 ? parts.at(-2)!.toLowerCase() : undefined;
  if (parts.length < 2 || last === '') throw invalid(title, 'has no extension naming the disk format');
  if (!EXTENSION.test(last)) throw invalid(title, `has an unusable extension ${JSON.stringify(last)}`);
  if (isCodecExtension(last)) {
    if (previous === undefined || previous === '')
      throw invalid(title, `names codec .${last} but no disk format before it`);
    if (!EXTENSION.test(previous))
      throw invalid(title, `has an unusable format extension ${JSON.stringify(previous)}`);
    return { format: previous, codecExtension: last };
  }
  if (DISK_FORMATS.includes(last)) return { format: last };
  if (previous === undefined || previous === '' || !EXTENSION.test(previous)) {
    throw invalid(title, `ends in .${last}, which is neither a known codec nor a disk format`);
  }
  // An unknown last extension after a format: a codec no plugin knows yet; detection by magic decides.
  return { format: previous, codecExtension: last };
}

const TITLE_ARCHES: Readonly<Record<string, string>> = {
  x86_64: 'amd64',
  amd64: 'amd64',
  aarch64: 'arm64',
  arm64: 'arm64',
};

/**
 * The architecture a file name names (`podman-machine.aarch64.qemu.qcow2.zst` → arm64), read
 * from its `.`/`-` separated words; undefined when it names none, or two different ones.
 */
export function titleArch(title: string): string | undefined {
  const named = new Set(
    title
      .toLowerCase()
      .split(/[.-]/)
      .map((word) => TITLE_ARCHES[word])
      .filter((arch): arch is string => arch !== undefined),
  );
  return named.size === 1 ? [...named][0] : undefined;
}
