import { OcipullError } from './errors/errors.js';
import type { CodecInfo } from './types.js';

export interface CodecHints {
  /** File name (layer title or tar entry name). */
  name?: string;
  mediaType?: string;
}

/** The codecs plugins have registered, and detection by magic bytes with name and media type as hints. */
export class CodecRegistry {
  private readonly codecs = new Map<string, CodecInfo>();

  register(info: CodecInfo): void {
    if (this.codecs.has(info.name)) {
      throw new OcipullError('PLUGIN_DUPLICATE', `codec ${info.name} is registered twice`);
    }
    this.codecs.set(info.name, Object.freeze({ ...info }));
  }

  get(name: string): CodecInfo | undefined {
    return this.codecs.get(name);
  }

  list(): CodecInfo[] {
    return [...this.codecs.values()];
  }

  /** The codec a file name's last extension names (`x.qcow2.zst` → zstd), if registered. */
  byName(name: string | undefined): CodecInfo | undefined {
    const ext = name?.toLowerCase().split('.').pop();
    if (!ext || ext === name?.toLowerCase()) return undefined;
    return this.list().find((c) => c.extensions.includes(ext));
  }

  byMagic(head: Uint8Array): CodecInfo | undefined {
    return this.list().find((c) => c.magic.some((m) => m.length > 0 && startsWith(head, m)));
  }

  /** The codec one of whose extensions is `ext` (no dot, any case). */
  byExtension(ext: string): CodecInfo | undefined {
    const lower = ext.toLowerCase();
    return this.list().find((c) => c.extensions.includes(lower));
  }

  /**
   * The codec the bytes carry by magic (a name-only codec such as zip only when `name` agrees),
   * or undefined: unlike `detect`, never an error, for inputs that may well be uncompressed.
   */
  ofBytes(head: Uint8Array, name?: string): CodecInfo | undefined {
    const magic = this.byMagic(head);
    if (!magic || (magic.requireNameMatch && this.byName(name)?.name !== magic.name)) return undefined;
    return magic;
  }

  /** The codecs `pack` can compress into (those with an encoder), in registration order. */
  encoders(): CodecInfo[] {
    return this.list().filter((c) => c.encoder !== undefined);
  }

  /**
   * Decide the codec: magic bytes first; a name-only codec (zip) needs the name to agree.
   * When the bytes carry no known magic but the name or media type promises a codec, that is
   * CODEC_MISMATCH (a corrupt or mislabelled blob); otherwise the data is taken as uncompressed.
   */
  detect(head: Uint8Array, hints: CodecHints = {}): string {
    const named = this.byName(hints.name);
    const magic = this.byMagic(head);
    if (magic && (!magic.requireNameMatch || named?.name === magic.name)) return magic.name;
    const typed = hints.mediaType
      ? this.list().find((c) => c.mediaTypes.includes(hints.mediaType ?? ''))
      : undefined;
    const promised = named ?? typed;
    if (promised && promised.magic.length > 0 && !promised.requireNameMatch) {
      throw new OcipullError(
        'CODEC_MISMATCH',
        `${hints.name ?? hints.mediaType} says ${promised.name}, but the data does not start with ${promised.name} magic bytes`,
        {
          hint: `found ${Buffer.from(head.subarray(0, 8)).toString('hex') || 'no bytes'}; the blob is corrupt or mislabelled`,
        },
      );
    }
    return 'none';
  }
}

function startsWith(head: Uint8Array, magic: Uint8Array): boolean {
  if (head.length < magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (head[i] !== magic[i]) return false;
  return true;
}

/** The media type `pack` gives a layer in this codec. */
export function layerMediaType(codec: CodecInfo): string {
  return codec.layerMediaType ?? codec.mediaTypes[0] ?? 'application/octet-stream';
}

/** The extension `pack` appends to a title in this codec (`zst`); empty for `none`. */
export function titleExtension(codec: CodecInfo): string {
  return codec.extensions[0] ?? '';
}
