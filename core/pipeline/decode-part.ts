import { promises as fsp } from 'node:fs';
import type { Readable } from 'node:stream';
import { checkDiskFormat, DISK_HEAD_BYTES } from '../disk-format.js';
import { callKeyed } from '../dispatch.js';
import { OcipullError } from '../errors/errors.js';
import type { Part, PartDecode, Plan } from '../kinds/types.js';
import { isTarLayerMediaType } from '../oci/media-types.js';
import type { Orchestrator } from '../orchestrator.js';
import type { Selection } from '../types.js';
import type { OutputFile } from './output.js';
import { peek } from './peek.js';
import { PROGRESS_INTERVAL_MS } from './pull-progress.js';

/** `sparse` of the part, else the setting, else holes for raw disks only (other formats keep their own maps). */
export function writeSparse(setting: boolean | undefined, decode: PartDecode): boolean {
  if (decode.sparse !== undefined) return decode.sparse;
  if (setting !== undefined) return setting;
  return decode.format === 'raw' || decode.format === 'img';
}

/** DISK_FORMAT_MISMATCH when the decoded file's first bytes are not the format the part names. */
export async function checkWrittenFormat(path: string, decode: PartDecode): Promise<void> {
  if (decode.format === undefined) return;
  const handle = await fsp.open(path, 'r');
  try {
    const head = Buffer.alloc(DISK_HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, DISK_HEAD_BYTES, 0);
    const claimedBy =
      decode.name !== undefined ? `the layer title ${decode.name}` : 'the preset (the layer has no title)';
    checkDiskFormat(head.subarray(0, bytesRead), decode.format, claimedBy);
  } finally {
    await handle.close();
  }
}

/** The `selection` an unpacker sees: the disk kind's own, or one made from the plan for other kinds. */
export function partSelection(plan: Plan, part: Part): Selection {
  return {
    manifestDescriptor: plan.manifestDescriptor,
    manifest: plan.manifest,
    layer: part.descriptor,
    diskType: plan.diskType ?? plan.kind,
    platform: plan.platform,
    ...(part.decode.name === undefined ? {} : { title: part.decode.name }),
    ...(part.decode.format === undefined ? {} : { format: part.decode.format }),
  };
}

/** The `unpack` key of a part: as planned, or (`auto`) by media type, title and a tar header sniff. */
async function unpackKey(part: Part, input: Readable): Promise<{ kind: string; stream: Readable }> {
  if (part.decode.unpack !== 'auto') return { kind: part.decode.unpack, stream: input };
  if (isTarLayerMediaType(part.descriptor.mediaType)) return { kind: 'tar', stream: input };
  // A titled artifact layer is the file its title names, even when those bytes are a tar: an
  // uncompressed wsl disk is a rootfs tarball and is written as is. Only untitled layers of an
  // undeclared type are sniffed for a tar header.
  if (part.decode.name !== undefined) return { kind: 'blob', stream: input };
  const { head, stream } = await peek(input, 512);
  const ustar = head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
  return { kind: ustar ? 'tar' : 'blob', stream };
}

export interface Decoded {
  codec: string;
  /** The `unpack` key used (`blob`, `tar`). */
  kind: string;
  bytesWritten: number;
}

/**
 * Unpack (`unpack.for(key)`) and decode (`decompress.for(codec)`) a part's verified stream into
 * `out`. The decoded file's format is checked as soon as its first bytes are written and again at
 * the end; past `maxExpansionRatio` × the layer's size the run is stopped (EXPANSION_LIMIT).
 * Failures found while writing abort `abort`.
 */
export async function decodePart(options: {
  orchestrator: Orchestrator;
  plan: Plan;
  part: Part;
  input: Readable;
  out: OutputFile;
  abort: AbortController;
  /** The complete cached blob's file, when the part is read from the cache. */
  cachedFile?: string;
  onWritten(bytes: number): void;
}): Promise<Decoded> {
  const { orchestrator, part, out, abort } = options;
  const settings = orchestrator.settings;
  const layer = part.descriptor;
  const { kind, stream: layerStream } = await unpackKey(part, options.input);
  const noUnpacker = () =>
    new OcipullError('NO_UNPACKER', `no plugin unpacks ${kind} layers (${layer.mediaType})`, {
      hint: `add a plugin that taps unpack.for('${kind}'), e.g. ocipull-plugin-unpack-${kind}`,
    });
  const unpacked = await callKeyed(
    orchestrator.hooks.unpack,
    kind,
    {
      layer,
      selection: partSelection(options.plan, part),
      part,
      input: layerStream,
      signal: abort.signal,
      log: orchestrator.log,
    },
    noUnpacker,
  );
  const { head, stream: fileStream } = await peek(unpacked.stream, 16);
  const codec =
    part.decode.codec === 'auto'
      ? orchestrator.codecs.detect(head, {
          name: unpacked.name ?? part.decode.name,
          mediaType: layer.mediaType,
        })
      : part.decode.codec;
  const maxOutputBytes =
    settings.maxExpansionRatio > 0 ? Math.max(layer.size, 1) * settings.maxExpansionRatio : undefined;
  let formatChecked = false;
  const timer = setInterval(() => {
    out.syncSize().then(
      (bytes) => {
        options.onWritten(bytes);
        if (!formatChecked && bytes >= DISK_HEAD_BYTES) {
          formatChecked = true;
          checkWrittenFormat(out.path, part.decode).catch((e: unknown) => abort.abort(e));
        }
        if (maxOutputBytes !== undefined && bytes > maxOutputBytes) {
          abort.abort(
            new OcipullError(
              'EXPANSION_LIMIT',
              `output passed ${maxOutputBytes} bytes (${settings.maxExpansionRatio}× the ${layer.size}-byte layer)`,
              {
                hint: 'raise maxExpansionRatio in config if the image is genuine',
              },
            ),
          );
        }
      },
      () => {},
    );
  }, PROGRESS_INTERVAL_MS);
  // The decoder's input is the blob, byte for byte: no unpacking before it.
  const whole = kind === 'blob' && unpacked.stream === layerStream;
  try {
    const decoded = await callKeyed(
      orchestrator.hooks.decompress,
      codec,
      {
        codec,
        input: fileStream,
        output: out,
        maxOutputBytes,
        signal: abort.signal,
        log: orchestrator.log,
        blobFile: whole && options.cachedFile !== undefined ? options.cachedFile : undefined,
        blobSize: whole ? layer.size : undefined,
      },
      () =>
        new OcipullError('NO_CODEC', `the disk is ${codec}-compressed and no plugin decompresses ${codec}`, {
          hint: `install ocipull-plugin-codec-${codec}; configured codecs: ${
            orchestrator.codecs
              .list()
              .map((c) => c.name)
              .join(', ') || 'none'
          }`,
        }),
      () => {
        if (abort.signal.aborted) throw abort.signal.reason;
        return new OcipullError('NO_CODEC', `no ${codec} plugin answered`);
      },
    );
    if (abort.signal.aborted) throw abort.signal.reason;
    await checkWrittenFormat(out.path, part.decode);
    return { codec, kind, bytesWritten: decoded.bytesWritten };
  } finally {
    clearInterval(timer);
  }
}
