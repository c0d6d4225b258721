/**
 * The disk kind's pack (machine-os): per disk one single-layer artifact manifest, the OCI empty
 * config, the (compressed) disk file as its layer titled
 * `podman-machine.<arch>.<hypervisor>.<format>.<codec>`, and an index entry carrying `disktype`
 * and the platform in `uname -m` naming. Every disk is checked before anything is published: a
 * known hypervisor name, one disk per hypervisor, a readable file whose format (looked at inside
 * an already compressed input) is what the disk type and the title say, and a compressed input
 * only with its own codec.
 */
import { promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import {
  Annotations,
  type CodecRegistry,
  checkDiskFormat,
  checkTitle,
  DISK_HEAD_BYTES,
  decodedHead,
  defaultTitle,
  diskFormat,
  HYPERVISOR_FORMATS,
  type KindPackRequest,
  layerMediaType,
  nameFormat,
  OcipullError,
  type PackCodec,
  type PackEntry,
  type PackedEntry,
  suggestion,
  titleExtension,
} from 'ocipull';

/** One `--disk HYPERVISOR=PATH` (the disk kind's `inputs.disks`). */
export interface DiskInput {
  hypervisor: string;
  path: string;
  title?: string;
}

/** What the disk kind reads from `inputs`. */
export interface DiskPackInputs {
  disks?: DiskInput[];
  /** Codec for uncompressed inputs (default zstd); an already compressed input must match it. */
  compress?: PackCodec;
}

const HYPERVISOR = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

async function readHead(disk: DiskInput): Promise<Buffer> {
  const known = Object.keys(HYPERVISOR_FORMATS);
  if (HYPERVISOR.test(disk.hypervisor) && !known.includes(disk.hypervisor)) {
    throw new OcipullError(
      'PACK_INPUT_INVALID',
      `--disk ${disk.hypervisor}=${disk.path}: ${JSON.stringify(disk.hypervisor)} is not a known disk type`,
      { hint: `${suggestion(disk.hypervisor, known)}known disk types: ${known.join(', ')}` },
    );
  }
  if (!HYPERVISOR.test(disk.hypervisor)) {
    throw new OcipullError(
      'PACK_INPUT_INVALID',
      `--disk ${disk.hypervisor}=${disk.path}: ${JSON.stringify(disk.hypervisor)} is not a hypervisor name`,
      { hint: 'HYPERVISOR=PATH with HYPERVISOR one of qemu, applehv, hyperv, wsl (lowercase)' },
    );
  }
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(disk.path, 'r');
    const stat = await handle.stat();
    if (!stat.isFile()) throw new Error('not a regular file');
    const head = Buffer.alloc(DISK_HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, DISK_HEAD_BYTES, 0);
    return head.subarray(0, bytesRead);
  } catch (error) {
    throw new OcipullError(
      'PACK_INPUT_INVALID',
      `--disk ${disk.hypervisor}=${disk.path}: ${(error as Error).message}`,
      { hint: 'PATH must be a readable disk file', cause: error },
    );
  } finally {
    await handle?.close();
  }
}

/** The codec of the layer: the input's own when it is compressed already, else `compress`. */
function layerCodec(
  disk: DiskInput,
  found: PackCodec | undefined,
  compress: PackCodec | undefined,
  codecs: CodecRegistry,
): { codec: PackCodec; asIs: boolean } {
  if (!found) {
    const codec = compress ?? 'zstd';
    if (!codecs.get(codec)?.encoder) {
      throw new OcipullError('PACK_INPUT_INVALID', `--compress ${codec} is not supported`, {
        hint: `choose one of ${codecs
          .encoders()
          .map((c) => c.name)
          .join(', ')}`,
      });
    }
    return { codec, asIs: codec === 'none' };
  }
  if (compress !== undefined && compress !== found) {
    throw new OcipullError(
      'PACK_INPUT_INVALID',
      `${disk.path} is already compressed with ${found}, but --compress ${compress} was asked for`,
      {
        hint: `pass the uncompressed disk, or --compress ${found} (or no --compress) to publish it as it is`,
      },
    );
  }
  return { codec: found, asIs: true };
}

export async function packDisks(request: KindPackRequest): Promise<PackEntry[]> {
  const { disks = [], compress } = request.inputs as DiskPackInputs;
  const codecs = request.codecs;
  const os = request.platform?.os ?? 'linux';
  const architecture = request.platform?.architecture ?? request.settings.arch;
  if (disks.length === 0) {
    throw new OcipullError('PACK_INPUT_INVALID', 'no disk to pack', {
      hint: 'pass --disk HYPERVISOR=PATH at least once',
    });
  }
  const seen = new Set<string>();
  const entries: PackEntry[] = [];
  for (const disk of disks) {
    if (seen.has(disk.hypervisor)) {
      throw new OcipullError(
        'PACK_INPUT_INVALID',
        `--disk ${disk.hypervisor}= is given twice for ${os}/${architecture}`,
        {
          hint: 'one disk per hypervisor and architecture; run pack again with --arch for another architecture',
        },
      );
    }
    seen.add(disk.hypervisor);
    const head = await readHead(disk);
    const found = codecs.ofBytes(head, basename(disk.path))?.name;
    const { codec, asIs } = layerCodec(disk, found, compress, codecs);
    const record = codecs.get(codec)!;
    const format = diskFormat(disk.hypervisor, basename(disk.path), codecs);
    const title = checkTitle(
      disk.title ?? defaultTitle(architecture, disk.hypervisor, format, titleExtension(record)),
    );
    // The disk (an uncompressed input's bytes, else the start of what they decode to) must be
    // what the disk type and title say.
    const diskHead = found ? await decodedHead(disk.path, record, DISK_HEAD_BYTES) : head;
    if (diskHead) {
      checkDiskFormat(diskHead, format, `--disk ${disk.hypervisor}=`);
      checkDiskFormat(diskHead, nameFormat(title, codecs), `--title ${title}`);
    } else {
      request.log.debug(
        `pack: no ${codec} stream decoder to look inside ${disk.path}; its format is checked when it is pulled`,
      );
    }
    entries.push({
      layers: [
        {
          path: disk.path,
          codec,
          asIs,
          mediaType: layerMediaType(record),
          annotations: { [Annotations.title]: title },
        },
      ],
      platform: { architecture, os },
      annotations: { [Annotations.diskType]: disk.hypervisor },
      facts: { hypervisor: disk.hypervisor, title, codec },
    });
  }
  return entries;
}

/** The pack result's `disks`: what was published per disk (one layer each). */
export function packedDisks(packed: PackedEntry[]): Record<string, unknown>[] {
  return packed.map((p) => ({
    hypervisor: p.facts.hypervisor,
    platform: { os: p.platform.os, architecture: p.platform.architecture },
    title: p.facts.title,
    codec: p.facts.codec,
    mediaType: p.layers[0]!.mediaType,
    manifestDigest: p.manifestDigest,
    blobDigest: p.layers[0]!.digest,
    blobSize: p.layers[0]!.size,
  }));
}
