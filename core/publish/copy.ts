/**
 * `copy`: like `skopeo copy`, between any two transports, digests preserved (the documents'
 * bytes are pushed exactly as fetched). `all`: the whole index, nested indexes included;
 * otherwise an index is narrowed to the one manifest selected as `pull` would select it.
 * Children go first, the top document last under the tag.
 */
import { type Readable, Transform } from 'node:stream';
import { OcipullError } from '../errors/errors.js';
import { checkTag } from '../layout/read.js';
import { DigestVerifier } from '../oci/digest.js';
import { MAX_INDEX_ENTRIES } from '../oci/documents.js';
import { Annotations } from '../oci/media-types.js';
import type { Orchestrator } from '../orchestrator.js';
import type {
  BlobBody,
  Descriptor,
  DiskRequest,
  LoadedDocument,
  ManifestEntry,
  Source,
  TransportOptions,
} from '../types.js';
import { openDestination } from './destination.js';
import { bufferBody, Transfer, type TransferStats } from './transfer.js';

export interface CopyRequest {
  source: string;
  destination: string;
  /** Copy every manifest of an index (and nested indexes). */
  all?: boolean;
  /** Without `all`: which disk of an index to copy (default: the settings' disk type, os, arch). */
  want?: DiskRequest;
  sourceTransport?: TransportOptions;
  destinationTransport?: TransportOptions;
  signal?: AbortSignal;
}

export interface CopyResult {
  source: string;
  destination: string;
  tag: string;
  digest: string;
  mediaType: string;
  manifests: number;
  blobs: TransferStats;
}

const MAX_DEPTH = 4;

/** The platform and annotations of an index entry, its tag annotation left out. */
function entryOf(descriptor: Descriptor): ManifestEntry | undefined {
  const { [Annotations.refName]: _tag, ...annotations } = descriptor.annotations ?? {};
  const entry: ManifestEntry = {};
  if (descriptor.platform) entry.platform = descriptor.platform;
  if (Object.keys(annotations).length > 0) entry.annotations = annotations;
  return entry.platform || entry.annotations ? entry : undefined;
}

/** A stream from `offset`, cut to start there even when the source ignored the range (verified from 0). */
export async function openAt(
  orchestrator: Orchestrator,
  source: Source,
  descriptor: Descriptor,
  offset: number,
  signal: AbortSignal,
): Promise<Readable> {
  const response = await orchestrator.fetchRaw(source, descriptor, offset, signal);
  let skip = offset - response.offset;
  const verifier =
    offset === 0
      ? new DigestVerifier(descriptor, `blob ${descriptor.digest} of ${source.reference}`)
      : undefined;
  const checked = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      try {
        let piece = chunk;
        if (skip > 0) {
          const cut = Math.min(skip, piece.length);
          piece = piece.subarray(cut);
          skip -= cut;
        }
        verifier?.update(piece);
        callback(null, piece);
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback) {
      try {
        verifier?.finish();
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
  response.body.on('error', (e) => checked.destroy(e));
  return response.body.pipe(checked);
}

export async function runCopy(orchestrator: Orchestrator, request: CopyRequest): Promise<CopyResult> {
  const signal = request.signal ?? new AbortController().signal;
  const log = orchestrator.log;
  const source = await orchestrator.openSource(request.source, {
    purpose: 'pull',
    transport: request.sourceTransport,
    signal,
  });
  try {
    if (!source.root) throw new OcipullError('MANIFEST_NOT_FOUND', `${source.reference} names no manifest`);
    let top = await orchestrator.load(source, source.root, signal);
    // The narrowed manifest keeps what its index entry said (platform, annotations but the tag).
    let topEntry: ManifestEntry | undefined;
    if (top.kind === 'index' && !request.all) {
      const s = orchestrator.settings;
      const want: DiskRequest = request.want ?? {
        diskType: s.diskType,
        os: s.os,
        architecture: s.arch,
        ...(s.variant === undefined ? {} : { variant: s.variant }),
        allowMissingTitle: s.allowMissingTitle,
        format: s.format,
      };
      const selection = await orchestrator.select(source, top, want, signal);
      top = await orchestrator.load(source, selection.manifestDescriptor, signal);
      topEntry = entryOf(selection.manifestDescriptor);
      log.info(
        `${source.reference}: copying the ${want.diskType} disk for ${selection.platform.os}/${selection.platform.architecture} (${top.descriptor.digest}); --all copies the whole index`,
      );
    }
    const dest = await openDestination(
      orchestrator,
      request.destination,
      request.destinationTransport ?? orchestrator.settings.transport,
      signal,
    );
    try {
      const tag = checkTag(dest.tag ?? 'latest');
      const transfer = new Transfer(dest, signal, log);
      let manifests = 0;
      const bodyOf = (descriptor: Descriptor) => (): BlobBody =>
        descriptor.data !== undefined
          ? bufferBody(Buffer.from(descriptor.data, 'base64'))
          : { open: (offset = 0) => openAt(orchestrator, source, descriptor, offset, signal) };

      // Each document is copied once however often it is listed; entries walked are bounded.
      const copied = new Set<string>();
      let entries = 0;
      const copyDocument = async (
        doc: LoadedDocument,
        depth: number,
        tagged?: string,
        entry?: ManifestEntry,
      ): Promise<void> => {
        if (doc.kind === 'index') {
          if (depth > MAX_DEPTH)
            throw new OcipullError(
              'INDEX_TOO_DEEP',
              `${source.reference}: indexes nest deeper than ${MAX_DEPTH}`,
            );
          for (const entry of doc.index.manifests) {
            if (++entries > MAX_INDEX_ENTRIES) {
              throw new OcipullError(
                'INDEX_TOO_LARGE',
                `${source.reference}: the indexes list more than ${MAX_INDEX_ENTRIES} entries (the copy limit)`,
                { data: { limit: MAX_INDEX_ENTRIES } },
              );
            }
            if (copied.has(entry.digest)) continue;
            await copyDocument(await orchestrator.load(source, entry, signal), depth + 1);
            copied.add(entry.digest);
          }
        } else {
          const m = doc.manifest;
          for (const blob of [m.config, ...m.layers]) await transfer.blob(blob, bodyOf(blob), source);
          manifests++;
        }
        await transfer.manifest(doc.bytes, doc.descriptor.mediaType, tagged, entry);
      };
      await copyDocument(top, 0, tag, topEntry);
      log.info(
        `${dest.reference.replace(/:[^:/\\@]+$/, '')}:${tag}: ${top.descriptor.digest} (${manifests} manifests; blobs ${transfer.stats.pushed} pushed, ${transfer.stats.skipped} present, ${transfer.stats.mounted} mounted)`,
      );
      return {
        source: source.reference,
        destination: dest.reference,
        tag,
        digest: top.descriptor.digest,
        mediaType: top.descriptor.mediaType,
        manifests,
        blobs: transfer.stats,
      };
    } finally {
      await dest.close?.();
    }
  } finally {
    await source.close?.();
  }
}
