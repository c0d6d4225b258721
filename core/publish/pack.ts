/**
 * `pack`: turn disk files into a machine-os index at a destination. Per disk: stage (compress
 * while hashing), upload the layer, push its one-layer manifest by digest; then the empty
 * config; last the index under the tag, merged with what the tag held. Until that last push
 * the tag is untouched, so a failure never leaves it half-published.
 */
import { promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import { codecsOf } from '../builtin-codecs.js';
import { type CodecRegistry, layerMediaType, titleExtension } from '../codecs.js';
import { checkDiskFormat, DISK_HEAD_BYTES } from '../disk-format.js';
import { OcipullError } from '../errors/errors.js';
import { checkTag } from '../layout/read.js';
import { EMPTY_DESCRIPTOR, MediaTypes } from '../oci/media-types.js';
import { checkArchitecture, unameArch } from '../oci/platform.js';
import type { Orchestrator } from '../orchestrator.js';
import { suggestion } from '../suggest.js';
import type { Descriptor, TransportOptions } from '../types.js';
import { openDestination } from './destination.js';
import { decodedHead } from './disk-head.js';
import {
  checkTitle,
  defaultTitle,
  diskEntry,
  diskFormat,
  diskManifest,
  HYPERVISOR_FORMATS,
  nameFormat,
  type PackCodec,
} from './machine-os.js';
import { type MergeStrategy, mergeIndex } from './merge.js';
import { stageBlob } from './stage.js';
import { bufferBody, Transfer, type TransferStats } from './transfer.js';

export interface PackDisk {
  /** The hypervisor (`disktype`): qemu, applehv, hyperv, wsl, ... */
  hypervisor: string;
  path: string;
  /** Layer title; default `podman-machine.<arch>.<hypervisor>.<format>.<codec>`. */
  title?: string;
}

export interface PackRequest {
  /** `oci-dir:DIR[:TAG]` or `docker://REGISTRY/REPO[:TAG]`. */
  destination: string;
  disks: PackDisk[];
  /** Either naming; written in `uname -m` naming (x86_64, aarch64). Default: this host. */
  arch?: string;
  os?: string;
  /** Codec for uncompressed inputs (default zstd); an already compressed input must match it. */
  compress?: PackCodec;
  /** Overrides the destination reference's tag; default `latest`. */
  tag?: string;
  strategy?: MergeStrategy;
  transport?: TransportOptions;
  signal?: AbortSignal;
}

export interface PackedDisk {
  hypervisor: string;
  platform: { os: string; architecture: string };
  title: string;
  codec: PackCodec;
  mediaType: string;
  manifestDigest: string;
  blobDigest: string;
  blobSize: number;
}

export interface PackResult {
  destination: string;
  tag: string;
  indexDigest: string;
  indexSize: number;
  disks: PackedDisk[];
  /** Entries of the earlier index that were replaced / kept. */
  replaced: number;
  kept: number;
  blobs: TransferStats;
}

const HYPERVISOR = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

async function checkDisk(disk: PackDisk): Promise<{ head: Buffer }> {
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
      {
        hint: 'HYPERVISOR=PATH with HYPERVISOR one of qemu, applehv, hyperv, wsl (lowercase)',
      },
    );
  }
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(disk.path, 'r');
    const stat = await handle.stat();
    if (!stat.isFile()) throw new Error('not a regular file');
    const head = Buffer.alloc(DISK_HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, DISK_HEAD_BYTES, 0);
    return { head: head.subarray(0, bytesRead) };
  } catch (error) {
    throw new OcipullError(
      'PACK_INPUT_INVALID',
      `--disk ${disk.hypervisor}=${disk.path}: ${(error as Error).message}`,
      {
        hint: 'PATH must be a readable disk file',
        cause: error,
      },
    );
  } finally {
    await handle?.close();
  }
}

/** The codec of the layer: the input's own when it is compressed already, else `compress`. */
function layerCodec(
  disk: PackDisk,
  head: Buffer,
  compress: PackCodec | undefined,
  codecs: CodecRegistry,
): { codec: PackCodec; asIs: boolean } {
  const found = codecs.ofBytes(head, basename(disk.path))?.name;
  if (!found) {
    const codec = compress ?? 'zstd';
    if (!codecs.get(codec)?.encoder) {
      throw new OcipullError('PACK_INPUT_INVALID', `--compress ${codec} is not supported`, {
        hint: `choose one of ${compressors(codecs).join(', ')}`,
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

/** The codecs `--compress` may name: those whose record has an encoder. */
export function compressors(codecs: CodecRegistry): string[] {
  return codecs.encoders().map((c) => c.name);
}

export async function runPack(orchestrator: Orchestrator, request: PackRequest): Promise<PackResult> {
  const signal = request.signal ?? new AbortController().signal;
  const log = orchestrator.log;
  const strategy = request.strategy ?? 'merge';
  const os = request.os ?? 'linux';
  const arch = request.arch ?? orchestrator.settings.arch;
  checkArchitecture(arch, '--arch', 'PACK_INPUT_INVALID');
  const architecture = unameArch(arch);
  if (request.disks.length === 0) {
    throw new OcipullError('PACK_INPUT_INVALID', 'no disk to pack', {
      hint: 'pass --disk HYPERVISOR=PATH at least once',
    });
  }
  const codecs = await codecsOf(orchestrator);
  const seen = new Set<string>();
  const inputs = [];
  for (const disk of request.disks) {
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
    const { head } = await checkDisk(disk);
    const { codec, asIs } = layerCodec(disk, head, request.compress, codecs);
    const record = codecs.get(codec)!;
    const format = diskFormat(disk.hypervisor, basename(disk.path), codecs);
    const title = checkTitle(
      disk.title ?? defaultTitle(architecture, disk.hypervisor, format, titleExtension(record)),
    );
    // The disk (an uncompressed input's bytes, else the start of what they decode to) must be
    // what the disk type and title say.
    const diskHead = codecs.ofBytes(head, basename(disk.path))
      ? await decodedHead(disk.path, record, DISK_HEAD_BYTES)
      : head;
    if (diskHead) {
      checkDiskFormat(diskHead, format, `--disk ${disk.hypervisor}=`);
      checkDiskFormat(diskHead, nameFormat(title, codecs), `--title ${title}`);
    } else {
      log.debug(
        `pack: no ${codec} stream decoder to look inside ${disk.path}; its format is checked when it is pulled`,
      );
    }
    inputs.push({ disk, codec, record, asIs, title });
  }
  if (request.tag !== undefined) checkTag(request.tag);

  const dest = await openDestination(
    orchestrator,
    request.destination,
    request.transport ?? orchestrator.settings.transport,
    signal,
  );
  try {
    const tag = checkTag(request.tag ?? dest.tag ?? 'latest');
    const where = `${dest.reference.replace(/:[^:/@]+$/, '')}:${tag}`;
    if (!dest.readTag && strategy !== 'overwrite') {
      // Merging needs the index now under the tag, and so does refusing a conflict: guessing
      // would replace a published index.
      throw new OcipullError(
        'UNSUPPORTED',
        `${dest.scheme}: this transport cannot read existing tags, so --${strategy} cannot see what ${where} holds now`,
        { hint: 'pass --overwrite to replace whatever the tag holds' },
      );
    }
    const existing = await dest.readTag?.(tag, signal);
    if (existing) mergeIndex(existing, [], strategy === 'exit-on-conflict' ? strategy : 'overwrite', where);
    const stagingDir = await dest.stagingDir?.();
    const transfer = new Transfer(dest, signal, log);
    await transfer.blob(EMPTY_DESCRIPTOR, () => bufferBody(Buffer.from('{}')));

    const disks: PackedDisk[] = [];
    const entries: Descriptor[] = [];
    for (const { disk, codec, record, asIs, title } of inputs) {
      log.info(`${disk.path}: ${asIs ? 'hashing' : `compressing with ${codec}`} as ${title}`);
      const staged = await stageBlob(disk.path, layerMediaType(record), {
        codec: asIs ? undefined : record,
        stagingDir,
        signal,
      });
      try {
        await transfer.blob(staged.descriptor, () => staged.body);
      } finally {
        await staged.cleanup();
      }
      const { bytes } = diskManifest(staged.descriptor, title);
      const manifest = await transfer.manifest(bytes, MediaTypes.ociManifest);
      entries.push(diskEntry(manifest, disk.hypervisor, { os, architecture }));
      disks.push({
        hypervisor: disk.hypervisor,
        platform: { os, architecture },
        title,
        codec,
        mediaType: staged.descriptor.mediaType,
        manifestDigest: manifest.digest,
        blobDigest: staged.descriptor.digest,
        blobSize: staged.descriptor.size,
      });
    }

    const merged = mergeIndex(existing, entries, strategy, where);
    const indexBytes = Buffer.from(JSON.stringify(merged.index));
    const index = await transfer.manifest(indexBytes, MediaTypes.ociIndex, tag);
    log.info(
      `${where}: index ${index.digest} with ${merged.index.manifests.length} entries` +
        (existing ? ` (${merged.replaced.length} replaced, ${merged.kept.length} kept)` : ''),
    );
    return {
      destination: dest.reference,
      tag,
      indexDigest: index.digest,
      indexSize: index.size,
      disks,
      replaced: merged.replaced.length,
      kept: merged.kept.length,
      blobs: transfer.stats,
    };
  } finally {
    await dest.close?.();
  }
}
