import { promises as fsp } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkDiskFormat, DISK_HEAD_BYTES } from '../disk-format.js';
import { isAbortError, isOcipullError, OcipullError } from '../errors/errors.js';
import { hasTaps } from '../hooks.js';
import { withoutUserinfo } from '../log.js';
import { DigestVerifier } from '../oci/digest.js';
import { isTarLayerMediaType } from '../oci/media-types.js';
import { normalizeArch } from '../oci/platform.js';
import type { Orchestrator } from '../orchestrator.js';
import type {
  BlobCache,
  CachedBlob,
  CacheHandle,
  CacheOrigin,
  DiskRequest,
  LayerKind,
  LoadedDocument,
  PullResult,
  Selection,
  Source,
} from '../types.js';
import { type BlobStream, openBlobStream } from './blob-stream.js';
import { openPullSource } from './offline.js';
import { expandOutputName, OutputFile } from './output.js';
import { pauseAt } from './pause.js';
import { peek } from './peek.js';
import { loadDocument } from './source.js';

export interface PullRequest {
  /** TRANSPORT:REFERENCE; the configured default source when absent. */
  source?: string;
  /** Output file or directory; the preset's output name in the working directory when absent. */
  output?: string;
  signal?: AbortSignal;
}

const PROGRESS_INTERVAL_MS = 250;

/** `5.5.1` → `5.5`. */
export function majorMinor(version: string): string {
  const [major, minor] = version.split('.');
  return minor === undefined ? (major ?? version) : `${major}.${minor}`;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await fsp.stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function makeOutputDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  } catch (error) {
    const code = (error as { code?: string }).code;
    const reason =
      code === 'EEXIST' || code === 'ENOTDIR'
        ? 'it, or one of its parents, exists and is not a directory'
        : (error as Error).message;
    throw new OcipullError('OUTPUT_FAILED', `cannot make the output directory ${dir}: ${reason}`, {
      hint: 'choose a directory that exists or can be made, or a file path as -o',
      cause: error,
    });
  }
}

export async function runPull(orchestrator: Orchestrator, request: PullRequest): Promise<PullResult> {
  const started = Date.now();
  const settings = orchestrator.settings;
  const signal = request.signal ?? new AbortController().signal;
  const sourceRaw = request.source ?? settings.defaultSource;
  const want: DiskRequest = {
    diskType: settings.diskType,
    os: settings.os,
    architecture: settings.arch,
    ...(settings.variant === undefined ? {} : { variant: settings.variant }),
    allowMissingTitle: settings.allowMissingTitle,
    format: settings.format,
  };
  const outputIsDir =
    request.output === undefined || request.output.endsWith('/') || (await isDirectory(request.output));
  const outputDir = outputIsDir ? resolvePath(request.output ?? '.') : undefined;
  const explicitOutput = outputIsDir ? undefined : resolvePath(request.output!);
  if (explicitOutput) await OutputFile.checkTarget(explicitOutput, settings.replace);
  // `-o DIR/` names a directory: made (mkdir -p, 0755) before anything is fetched, so
  // `pull -o ~/vms/` works on a fresh machine.
  if (outputDir && request.output?.endsWith('/')) await makeOutputDir(outputDir);
  await orchestrator.hooks.beforePull.promise({
    source: sourceRaw,
    output: explicitOutput ?? outputDir!,
    want,
  });

  orchestrator.hooks.progress.call({ phase: 'resolve', message: withoutUserinfo(sourceRaw) });
  const transport = {
    ...settings.transport,
    defaultTag: settings.transport.defaultTag ?? majorMinor(settings.machineOsVersion),
  };
  const { source, offline } = await openPullSource(orchestrator, sourceRaw, transport, signal);
  try {
    if (!source.root)
      throw new OcipullError(
        'INTERNAL',
        `transport ${source.scheme} resolved ${sourceRaw} without a root descriptor`,
      );
    const root = await loadDocument(orchestrator, source, source.root, signal);
    orchestrator.hooks.progress.call({
      phase: 'select',
      message: `${want.diskType} ${want.os}/${want.architecture}`,
    });
    const documents: LoadedDocument[] = [root];
    const selection = await orchestrator.select(source, root, want, signal, (d) => documents.push(d));
    const output =
      explicitOutput ??
      join(
        outputDir!,
        expandOutputName(settings.outputName, {
          name: settings.machineName,
          arch: normalizeArch(selection.platform.architecture),
          format: selection.format ?? settings.format ?? 'img',
          diskType: selection.diskType,
        }),
      );
    if (!explicitOutput) await OutputFile.checkTarget(output, settings.replace);
    const cache = await orchestrator.getCache();
    const origin: CacheOrigin = {
      source: source.reference,
      manifestDigest: selection.manifestDescriptor.digest,
      title: selection.title,
      diskType: selection.diskType,
      platform: selection.platform,
      defaultSource: sourceRaw === settings.defaultSource,
    };
    if (cache?.remember && !offline) {
      await cache
        .remember({ requested: sourceRaw, defaultTag: transport.defaultTag, source, documents })
        .catch((e: unknown) =>
          orchestrator.log.warn(`cache: cannot remember ${source.reference}: ${(e as Error).message}`),
        );
    }
    const transfer = { orchestrator, source, selection, output, cache, origin, signal };
    let outcome: TransferOutcome;
    try {
      outcome = await transferOnce(transfer);
    } catch (error) {
      if (!(error instanceof RetryFromSource)) throw error;
      if (offline) {
        throw new OcipullError('CACHE_CORRUPT', `${error.reason}; --offline cannot download it again`, {
          hint: 'pull it once without --offline to fetch a good copy',
          data: { digest: selection.layer.digest },
        });
      }
      orchestrator.log.warn(error.message);
      outcome = await transferOnce(transfer);
    }
    const result: PullResult = {
      source: source.reference,
      manifestDigest: selection.manifestDescriptor.digest,
      blobDigest: selection.layer.digest,
      diskType: selection.diskType,
      platform: { os: selection.platform.os, architecture: selection.platform.architecture },
      output,
      cacheHit: outcome.cacheHit,
      bytesFetched: outcome.bytesFetched,
      durationMs: Date.now() - started,
      details: {
        title: selection.title,
        codec: outcome.codec,
        layerKind: outcome.kind,
        resumedFrom: outcome.resumedFrom,
        offline,
        decodedFromCache: outcome.decoded,
      },
    };
    orchestrator.hooks.progress.call({ phase: 'done', bytes: outcome.bytesWritten });
    await orchestrator.hooks.afterPull.promise(result);
    return result;
  } finally {
    await source.close?.();
  }
}

interface Transfer {
  orchestrator: Orchestrator;
  source: Source;
  selection: Selection;
  output: string;
  cache?: BlobCache;
  origin: CacheOrigin;
  signal: AbortSignal;
}

interface TransferOutcome {
  cacheHit: boolean;
  bytesFetched: number;
  bytesWritten: number;
  codec: string;
  kind: LayerKind;
  resumedFrom: number;
  /** The output was cloned from the decompressed-base cache. */
  decoded?: boolean;
}

/** Thrown when what was reused (a cache entry, a partial) proved bad: retry once from the source. */
class RetryFromSource extends Error {
  constructor(readonly reason: string) {
    super(`${reason}; downloading it again`);
  }
}

/** A failure of unpacking or decoding: bad reused bytes may be the cause. */
function decodeFailure(error: unknown): boolean {
  if (!isOcipullError(error)) return false;
  return (
    /^(DECOMPRESS_|TAR_)/.test(error.code) ||
    error.code === 'CODEC_MISMATCH' ||
    /^(decompress|unpack)\[/.test(error.hook ?? '')
  );
}

/** Rehash a cached blob (after a decoder failed on it before its digest could be checked). */
async function blobIntact(blob: CachedBlob): Promise<boolean> {
  const verifier = new DigestVerifier(blob.descriptor, `cached blob ${blob.descriptor.digest}`);
  try {
    for await (const chunk of blob.open()) verifier.update(chunk as Buffer);
    verifier.finish();
    return true;
  } catch {
    return false;
  }
}

/**
 * Tell the cache the entry was used. The output is already in place by then, so a cache that
 * cannot record it costs a warning, not the pull.
 */
async function markUsed(t: Transfer, digest: string): Promise<void> {
  try {
    await t.cache?.used?.(digest, t.origin);
  } catch (error) {
    t.orchestrator.log.warn(
      `cache: cannot record the use of ${digest}: ${(error as Error)?.message ?? error}`,
    );
  }
}

/** `sparse` as set, else holes for raw disks only: other formats keep their own allocation maps. */
function writeSparse(setting: boolean | undefined, selection: Selection): boolean {
  if (setting !== undefined) return setting;
  return selection.format === 'raw' || selection.format === 'img';
}

/** Decompressed-base cache: clone the decoded disk kept for this blob instead of decompressing. */
async function restoreDecoded(t: Transfer): Promise<TransferOutcome | undefined> {
  const { orchestrator, selection } = t;
  if (!t.cache?.restoreDecoded) return undefined;
  const settings = orchestrator.settings;
  const out = await OutputFile.create(t.output, {
    sparse: writeSparse(settings.sparse, selection),
    replace: settings.replace,
  });
  // A block device is written in place by decoding: a cached copy would be put beside it.
  if (out.device) {
    await out.discard();
    return undefined;
  }
  let bytes: number;
  try {
    if (!(await t.cache.restoreDecoded(selection.layer.digest, out.path))) {
      await out.discard();
      return undefined;
    }
    bytes = (await fsp.stat(out.path)).size;
    orchestrator.hooks.progress.call({ phase: 'write', bytes });
    await out.commit();
  } catch (error) {
    await out.discard();
    throw error;
  }
  await markUsed(t, selection.layer.digest);
  return {
    cacheHit: true,
    bytesFetched: 0,
    bytesWritten: bytes,
    codec: 'decoded-cache',
    kind: 'blob',
    resumedFrom: 0,
    decoded: true,
  };
}

function cachedBlobStream(blob: CachedBlob): BlobStream {
  const verifier = new DigestVerifier(blob.descriptor, `cached blob ${blob.descriptor.digest}`);
  let settle!: { resolve: (d: string) => void; reject: (e: unknown) => void };
  const verified = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  verified.catch(() => {});
  async function* bytes(): AsyncGenerator<Buffer> {
    try {
      let paused = false;
      for await (const chunk of blob.open()) {
        verifier.update(chunk as Buffer);
        yield chunk as Buffer;
        if (!paused && verifier.received * 2 >= blob.descriptor.size) {
          paused = true;
          await pauseAt('decompress');
        }
      }
      settle.resolve(verifier.finish());
    } catch (error) {
      settle.reject(error);
      throw error;
    }
  }
  return {
    stream: Readable.from(bytes(), { objectMode: false, highWaterMark: 1 << 20 }),
    verified,
    resumedFrom: () => 0,
  };
}

/** DISK_FORMAT_MISMATCH when the decoded disk's first bytes are not the format its title says. */
async function checkWrittenFormat(path: string, selection: Selection): Promise<void> {
  const handle = await fsp.open(path, 'r');
  try {
    const head = Buffer.alloc(DISK_HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, DISK_HEAD_BYTES, 0);
    const claimedBy =
      selection.title !== undefined
        ? `the layer title ${selection.title}`
        : 'the preset (the layer has no title)';
    checkDiskFormat(head.subarray(0, bytesRead), selection.format, claimedBy);
  } finally {
    await handle.close();
  }
}

async function layerKind(
  selection: Selection,
  input: Readable,
): Promise<{ kind: LayerKind; stream: Readable }> {
  if (isTarLayerMediaType(selection.layer.mediaType)) return { kind: 'tar', stream: input };
  // A titled artifact layer is the file its title names, even when those bytes are a tar: an
  // uncompressed wsl disk is a rootfs tarball and is written as is. Only untitled layers of an
  // undeclared type are sniffed for a tar header.
  if (selection.title !== undefined) return { kind: 'blob', stream: input };
  const { head, stream } = await peek(input, 512);
  const ustar = head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
  return { kind: ustar ? 'tar' : 'blob', stream };
}

async function transferOnce(t: Transfer): Promise<TransferOutcome> {
  const { orchestrator, selection, signal } = t;
  const settings = orchestrator.settings;
  const layer = selection.layer;
  const decoded = await restoreDecoded(t);
  if (decoded) return decoded;
  const handle: CacheHandle | undefined = t.cache ? await t.cache.open(layer, t.origin, signal) : undefined;
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(signal.reason);
  signal.addEventListener('abort', onOuterAbort, { once: true });
  let fetched = 0;
  let lastDownloadEvent = 0;
  const blob =
    handle?.kind === 'hit'
      ? cachedBlobStream(handle.blob)
      : openBlobStream({
          orchestrator,
          source: t.source,
          descriptor: layer,
          signal: abort.signal,
          writer: handle?.writer,
          onFetched: (n) => {
            fetched += n;
            const now = Date.now();
            // The position in the blob (a resumed download starts past 0); the last event, at the
            // total, is never skipped, so a display ends at 100%.
            const position = blob.resumedFrom() + fetched;
            if (now - lastDownloadEvent >= PROGRESS_INTERVAL_MS || position >= layer.size) {
              lastDownloadEvent = now;
              orchestrator.hooks.progress.call({ phase: 'download', bytes: position, total: layer.size });
            }
          },
        });
  let verifyFailure: unknown;
  blob.verified.catch((e: unknown) => {
    verifyFailure = e;
  });
  let out: OutputFile | undefined;
  let timer: NodeJS.Timeout | undefined;
  let cacheCommitted = false;
  try {
    out = await OutputFile.create(t.output, {
      sparse: writeSparse(settings.sparse, selection),
      replace: settings.replace,
    });
    const { kind, stream: layerStream } = await layerKind(selection, blob.stream);
    const unpackHook = orchestrator.hooks.unpack.get(kind);
    const unpacked =
      unpackHook && hasTaps(orchestrator.hooks.unpack, kind)
        ? await unpackHook.promise({
            layer,
            selection,
            input: layerStream,
            signal: abort.signal,
            log: orchestrator.log,
          })
        : undefined;
    if (!unpacked) {
      throw new OcipullError('NO_UNPACKER', `no plugin unpacks ${kind} layers (${layer.mediaType})`, {
        hint: `add a plugin that taps unpack.for('${kind}'), e.g. ocipull-plugin-unpack-${kind}`,
      });
    }
    const { head, stream: diskStream } = await peek(unpacked.stream, 16);
    const codec = orchestrator.codecs.detect(head, {
      name: unpacked.name ?? selection.title,
      mediaType: layer.mediaType,
    });
    const decompressHook = orchestrator.hooks.decompress.get(codec);
    if (!decompressHook || !hasTaps(orchestrator.hooks.decompress, codec)) {
      throw new OcipullError(
        'NO_CODEC',
        `the disk is ${codec}-compressed and no plugin decompresses ${codec}`,
        {
          hint: `install ocipull-plugin-codec-${codec}; configured codecs: ${
            orchestrator.codecs
              .list()
              .map((c) => c.name)
              .join(', ') || 'none'
          }`,
        },
      );
    }
    const maxOutputBytes =
      settings.maxExpansionRatio > 0 ? Math.max(layer.size, 1) * settings.maxExpansionRatio : undefined;
    const output = out;
    // The disk's format is checked as soon as its first bytes are written, and again at the end.
    let formatChecked = false;
    timer = setInterval(() => {
      output.syncSize().then(
        (bytes) => {
          orchestrator.hooks.progress.call({ phase: 'decompress', bytes });
          if (!formatChecked && bytes >= DISK_HEAD_BYTES) {
            formatChecked = true;
            checkWrittenFormat(output.path, selection).catch((e: unknown) => abort.abort(e));
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
    const decoded = await decompressHook.promise({
      codec,
      input: diskStream,
      output: out,
      maxOutputBytes,
      signal: abort.signal,
      log: orchestrator.log,
      // A cached blob taken as is (no unpacking) is the decoder's input, byte for byte.
      blobFile:
        handle?.kind === 'hit' && kind === 'blob' && unpacked.stream === layerStream
          ? handle.blob.path
          : undefined,
    });
    if (abort.signal.aborted) throw abort.signal.reason;
    if (!decoded) throw new OcipullError('NO_CODEC', `no ${codec} plugin answered`);
    await checkWrittenFormat(out.path, selection);
    // The decoder may stop before the layer ends (a tar's padding): read the rest so the digest covers it.
    if (!blob.stream.readableEnded)
      await pipeline(blob.stream, new Writable({ write: (_c, _e, cb) => cb() }));
    await blob.verified;
    clearInterval(timer);
    orchestrator.hooks.progress.call({ phase: 'write', bytes: decoded.bytesWritten });
    if (handle?.kind === 'miss') {
      await handle.writer.commit();
      cacheCommitted = true;
    }
    await pauseAt('commit');
    if (t.cache?.keepDecoded && !out.device) {
      await t.cache
        .keepDecoded(layer.digest, out.path)
        .catch((e: unknown) =>
          orchestrator.log.warn(`cache: cannot keep the decompressed disk: ${(e as Error).message}`),
        );
    }
    await out.commit();
    await markUsed(t, layer.digest);
    return {
      cacheHit: handle?.kind === 'hit',
      bytesFetched: fetched,
      bytesWritten: decoded.bytesWritten,
      codec,
      kind,
      resumedFrom: blob.resumedFrom(),
    };
  } catch (caught) {
    clearInterval(timer);
    // The verification failure, when there is one, says more than the decoder's complaint about it.
    let error = caught;
    // A stream aborted by our own controller carries the real failure as its cause.
    const cause = (caught as { cause?: unknown })?.cause;
    if (isAbortError(caught) && !signal.aborted && isOcipullError(cause)) error = cause;
    await new Promise((resolve) => setImmediate(resolve));
    const verdict = verifyFailure;
    if (
      isOcipullError(verdict) &&
      !isOcipullError(error, 'DIGEST_MISMATCH') &&
      !isOcipullError(error, 'SIZE_MISMATCH')
    ) {
      if (verdict.code === 'DIGEST_MISMATCH' || verdict.code === 'SIZE_MISMATCH') error = verdict;
    }
    if (abort.signal.aborted && abort.signal.reason instanceof OcipullError) error = abort.signal.reason;
    // A full disk under the output is that, whichever decoder hit it (a child only prints it).
    if (out && !signal.aborted) error = out.explainFailure(error);
    abort.abort(error);
    blob.stream.destroy();
    await out?.discard();
    const mismatch = isOcipullError(error, 'DIGEST_MISMATCH') || isOcipullError(error, 'SIZE_MISMATCH');
    if (mismatch && isOcipullError(verdict) && error === verdict) {
      // Found by the core's verifier; the plugin it passed through did nothing wrong.
      verdict.plugin = undefined;
      verdict.hook = undefined;
    }
    // A decoder that failed before the digest was reached may have tripped on bad reused bytes.
    const suspect = !mismatch && !signal.aborted && decodeFailure(error);
    if (handle?.kind === 'hit' && suspect && !(await blobIntact(handle.blob))) {
      await t.cache?.evict(layer.digest);
      throw new RetryFromSource(`cache entry ${layer.digest} was corrupt and has been removed`);
    }
    // A verified blob committed to the cache stays there when only the output failed after it.
    if (handle?.kind === 'miss' && !cacheCommitted) {
      const dropPartial = mismatch || (suspect && blob.resumedFrom() > 0);
      // The failure that got us here is the one to report, not a cleanup's (a full cache fails both).
      await handle.writer
        .abort(!dropPartial)
        .catch((e: unknown) =>
          orchestrator.log.warn(
            `cache: cannot put the partial of ${layer.digest} aside: ${(e as Error).message}`,
          ),
        );
      if (dropPartial && blob.resumedFrom() > 0) {
        throw new RetryFromSource(`a resumed partial of ${layer.digest} did not verify and has been removed`);
      }
    }
    if (handle?.kind === 'hit' && mismatch) {
      await t.cache?.evict(layer.digest);
      throw new RetryFromSource(`cache entry ${layer.digest} was corrupt and has been removed`);
    }
    throw error;
  } finally {
    clearInterval(timer);
    signal.removeEventListener('abort', onOuterAbort);
    if (handle?.kind === 'hit') await handle.release();
  }
}
