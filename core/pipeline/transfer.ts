import { promises as fsp } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isAbortError, isOcipullError, OcipullError } from '../errors/errors.js';
import type { Part, Plan } from '../kinds/types.js';
import type { Orchestrator } from '../orchestrator.js';
import type { BlobCache, CacheHandle, CacheOrigin, Source } from '../types.js';
import type { BlobStream } from './blob-stream.js';
import { decodePart, writeSparse } from './decode-part.js';
import { blobIntact, openPartBlob } from './fetch-part.js';
import { OutputFile } from './output.js';
import { pauseAt } from './pause.js';
import type { PullProgress } from './pull-progress.js';
import { decideAfterFailure, type RetryReason } from './retry-decision.js';

/**
 * Where a part lands: a file (the output, or `staging/<name>`), the kind's own `place`, or only
 * the cache (an ordered part fetched ahead of its turn, placed later from its cache entry).
 */
export type Destination =
  | { type: 'file'; path: string; replace: boolean }
  | { type: 'custom'; staging: string }
  | { type: 'cache' };

export interface PartRun {
  orchestrator: Orchestrator;
  source: Source;
  plan: Plan;
  part: Part;
  /** The part's position in the plan (progress). */
  index: number;
  destination: Destination;
  cache?: BlobCache;
  origin: CacheOrigin;
  /** The run's signal (aborted by the user, or when another part failed). */
  signal: AbortSignal;
  progress: PullProgress;
  /** The source is the cache itself: a bad copy cannot be downloaded again. */
  offline: boolean;
  /** This is the second attempt, after RetryFromSource. */
  retried: boolean;
}

export interface PartOutcome {
  cacheHit: boolean;
  bytesFetched: number;
  bytesWritten: number;
  codec: string;
  kind: string;
  resumedFrom: number;
  /** The output was cloned from the decompressed-base cache. */
  decoded?: boolean;
  /** The file written, not yet renamed into place (committed by the caller). */
  out?: OutputFile;
}

/** Thrown when what was reused (a cache entry, a partial) proved bad: retry once from the source. */
export class RetryFromSource extends Error {
  constructor(readonly reason: string) {
    super(`${reason}; downloading it again`);
  }
}

function reasonText(reason: RetryReason, digest: string): string {
  return reason === 'corrupt-entry'
    ? `cache entry ${digest} was corrupt and has been removed`
    : `a resumed partial of ${digest} did not verify and has been removed`;
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

/** Decompressed-base cache: clone the decoded file kept for this blob instead of decoding it. */
async function restoreDecoded(t: PartRun): Promise<PartOutcome | undefined> {
  const { orchestrator, part, destination } = t;
  if (!t.cache?.restoreDecoded || destination.type !== 'file') return undefined;
  const out = await OutputFile.create(destination.path, {
    sparse: writeSparse(orchestrator.settings.sparse, part.decode),
    replace: destination.replace,
  });
  // A block device is written in place by decoding: a cached copy would be put beside it.
  if (out.device) {
    await out.discard();
    return undefined;
  }
  let bytes: number;
  try {
    if (!(await t.cache.restoreDecoded(part.descriptor.digest, out.path))) {
      await out.discard();
      return undefined;
    }
    bytes = (await fsp.stat(out.path)).size;
    t.progress.write(t.index, bytes);
  } catch (error) {
    await out.discard();
    throw error;
  }
  return {
    cacheHit: true,
    bytesFetched: 0,
    bytesWritten: bytes,
    codec: 'decoded-cache',
    kind: 'blob',
    resumedFrom: 0,
    decoded: true,
    out,
  };
}

/** Read what a decoder or placer left of the layer (a tar's padding) so the digest covers it all. */
async function drain(blob: BlobStream): Promise<void> {
  if (!blob.stream.readableEnded) await pipeline(blob.stream, new Writable({ write: (_c, _e, cb) => cb() }));
  await blob.verified;
}

/**
 * One attempt at one part: fetched (verified, cached, resumable), unpacked, decoded and placed.
 * A `file` destination's output is returned uncommitted; everything else is cleaned up on
 * failure as `decideAfterFailure` says (RetryFromSource when a retry is decided).
 */
export async function transferPart(t: PartRun): Promise<PartOutcome> {
  const { orchestrator, part, signal, destination } = t;
  const settings = orchestrator.settings;
  const layer = part.descriptor;
  const restored = await restoreDecoded(t);
  if (restored) return restored;
  const handle: CacheHandle | undefined = t.cache ? await t.cache.open(layer, t.origin, signal) : undefined;
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(signal.reason);
  signal.addEventListener('abort', onOuterAbort, { once: true });
  const { blob, fetched } = openPartBlob({
    orchestrator,
    source: t.source,
    descriptor: layer,
    handle,
    signal: abort.signal,
    onPosition: (position) => t.progress.download(t.index, position),
  });
  let verifyFailure: unknown;
  blob.verified.catch((e: unknown) => {
    verifyFailure = e;
  });
  let out: OutputFile | undefined;
  let cacheCommitted = false;
  try {
    let codec = 'none';
    let kind = 'custom';
    let bytesWritten = 0;
    if (destination.type === 'file') {
      out = await OutputFile.create(destination.path, {
        sparse: writeSparse(settings.sparse, part.decode),
        replace: destination.replace,
      });
      const output = out;
      const decoded = await decodePart({
        orchestrator,
        plan: t.plan,
        part,
        input: blob.stream,
        out: output,
        abort,
        cachedFile: handle?.kind === 'hit' ? handle.blob.path : undefined,
        onWritten: (bytes) => t.progress.decompress(t.index, bytes),
      });
      ({ codec, kind, bytesWritten } = decoded);
    } else if (destination.type === 'custom' && part.place.type === 'custom') {
      await part.place.place({
        part,
        input: blob.stream,
        staging: destination.staging,
        signal: abort.signal,
        log: orchestrator.log,
      });
      if (abort.signal.aborted) throw abort.signal.reason;
      bytesWritten = layer.size;
    }
    await drain(blob);
    if (destination.type !== 'cache') t.progress.write(t.index, bytesWritten);
    if (handle?.kind === 'miss') {
      await handle.writer.commit();
      cacheCommitted = true;
    }
    await pauseAt('commit');
    if (t.cache?.keepDecoded && out && !out.device) {
      await t.cache
        .keepDecoded(layer.digest, out.path)
        .catch((e: unknown) =>
          orchestrator.log.warn(`cache: cannot keep the decompressed disk: ${(e as Error).message}`),
        );
    }
    return {
      cacheHit: handle?.kind === 'hit',
      bytesFetched: fetched(),
      bytesWritten,
      codec,
      kind,
      resumedFrom: blob.resumedFrom(),
      ...(out ? { out } : {}),
    };
  } catch (caught) {
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
    const facts = {
      cache: handle?.kind ?? 'none',
      mismatch,
      decodeFailure: decodeFailure(error),
      interrupted: signal.aborted,
      resumedFrom: blob.resumedFrom(),
      cacheCommitted,
      retried: t.retried,
      offline: t.offline,
    } as const;
    let decision = decideAfterFailure(facts);
    if (decision.next === 'check-entry' && handle?.kind === 'hit') {
      decision = decideAfterFailure({ ...facts, entryIntact: await blobIntact(handle.blob) });
    }
    if (decision.evict) await t.cache?.evict(layer.digest);
    if (decision.partial && handle?.kind === 'miss') {
      // The failure that got us here is the one to report, not a cleanup's (a full cache fails both).
      await handle.writer
        .abort(decision.partial === 'keep')
        .catch((e: unknown) =>
          orchestrator.log.warn(
            `cache: cannot put the partial of ${layer.digest} aside: ${(e as Error).message}`,
          ),
        );
    }
    if (decision.next === 'retry') throw new RetryFromSource(reasonText(decision.reason!, layer.digest));
    if (decision.next === 'fail-offline') {
      throw new OcipullError(
        'CACHE_CORRUPT',
        `${reasonText(decision.reason!, layer.digest)}; --offline cannot download it again`,
        {
          hint: 'pull it once without --offline to fetch a good copy',
          data: { digest: layer.digest },
        },
      );
    }
    throw error;
  } finally {
    signal.removeEventListener('abort', onOuterAbort);
    if (handle?.kind === 'hit') await handle.release();
  }
}
