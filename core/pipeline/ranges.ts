/**
 * Parallel ranged download of one blob: up to `connections` requests fetch chunks of
 * `rangeChunkSize` bytes at once, and a reorder window hands the bytes on in order (to the
 * digest, the cache entry and the decoder). Memory is bounded: a chunk is only started while
 * fewer than `connections` fetched-but-unconsumed chunks are held (in memory without a cache
 * writer; in the partial, read back in turn, with one). Each chunk is retried on its
 * own; with a cache writer that can write at offsets, each chunk lands at its place in the
 * partial as it arrives and is recorded once complete, so a restart fetches only the gaps.
 * A source that does not honour a bounded range on the first request (a 200, a transport
 * without ranges) hands its answer back to the one-stream path. With `connectionsOnDemand` (the
 * default) one connection runs first, one chunk ahead, and more start only when
 * `connectionsWanted` (ranges-demand.ts) says they help: a slow first answer, or a consumer left
 * waiting for the network.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { OcipullError } from '../errors/errors.js';
import type { DigestVerifier } from '../oci/digest.js';
import type { Orchestrator } from '../orchestrator.js';
import type { CacheWriter, Descriptor, FetchResponse, Source } from '../types.js';
import { connectionsWanted } from './ranges-demand.js';
import { planSegments, type Segment } from './ranges-plan.js';
import { isTransient } from './transient.js';

export interface RangedContext {
  orchestrator: Orchestrator;
  source: Source;
  descriptor: Descriptor;
  signal: AbortSignal;
  writer?: CacheWriter;
  verifier: DigestVerifier;
  /** The blob's bytes before this offset were already handed on (a replayed prefix). */
  position: number;
  /** If-Range validator known before the first request (a partial's). */
  validator?: string;
  onFetched?(bytes: number): void;
  /** Called with each byte count handed on (network or partial), in order. */
  onHanded(bytes: number): Promise<void>;
}

/** What the ranged pass ended with: the blob handed on in full, or a response for the one stream. */
export type RangedOutcome = { complete: true } | { complete: false; fallback?: FetchResponse };

interface Slot extends Segment {
  buffers: Buffer[];
  /**
   * Whether arriving bytes are kept in memory for the consumer. With a positional cache writer
   * only the slot being consumed keeps them; the others are read back from the partial (page
   * cache) when their turn comes, so the window costs disk, not memory.
   */
  keep: boolean;
  got: number;
  done: boolean;
  started: boolean;
  consumed: boolean;
}

/** Whether a blob is worth fetching in ranges from `position` (two chunks or more, >1 connection). */
export function wantsRanges(orchestrator: Orchestrator, descriptor: Descriptor, position: number): boolean {
  const { connections, rangeChunkSize } = orchestrator.settings;
  const chunk = rangeChunkSize ?? 8 << 20;
  return (
    (connections ?? 1) > 1 &&
    descriptor.size >= 2 * chunk &&
    descriptor.size - position > chunk &&
    !descriptor.data
  );
}

export async function* fetchRanges(ctx: RangedContext): AsyncGenerator<Buffer, RangedOutcome> {
  const { orchestrator, source, descriptor, writer, verifier } = ctx;
  const settings = orchestrator.settings;
  const connections = Math.max(1, settings.connections ?? 1);
  const chunk = settings.rangeChunkSize ?? 8 << 20;
  const retries = settings.blobRetries;
  const delay = Number(process.env.OCIPULL_RETRY_DELAY_MS ?? 250);
  const log = orchestrator.log;
  const positional =
    writer?.writeAt !== undefined && writer.markComplete !== undefined && writer.readRange !== undefined;
  const local = writer?.readRange ? (writer.completed ?? []) : [];
  const slots: Slot[] = planSegments(ctx.position, descriptor.size, chunk, local).map((s) => ({
    ...s,
    buffers: [],
    keep: false,
    got: 0,
    done: false,
    started: false,
    consumed: false,
  }));
  const first = slots.find((s) => !s.local);
  if (!first) return yield* consumeAll();

  const inner = new AbortController();
  const onAbort = () => inner.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  let validator = ctx.validator;
  let fatal: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const workers: Promise<void>[] = [];

  const fetchPart = (at: number, end: number) =>
    orchestrator.fetchRaw(source, descriptor, at, inner.signal, validator, end - at);

  // The probe: the first gap's chunk alone, so a source that ignores ranges costs nothing more.
  let probe: FetchResponse;
  const asked = performance.now();
  try {
    probe = await fetchPart(first.start, first.end);
  } catch (error) {
    ctx.signal.removeEventListener('abort', onAbort);
    throw error;
  }
  const answered = performance.now();
  const strong = probe.etag && !probe.etag.startsWith('W/') ? probe.etag : undefined;
  validator = strong ?? probe.lastModified ?? validator;
  await writer?.describe({ url: probe.url, etag: probe.etag, lastModified: probe.lastModified });
  // The last segment's answer runs to the blob's end: unbounded is what was asked for there.
  const probeEnd = probe.end ?? (first.end === descriptor.size ? descriptor.size : undefined);
  if (probe.offset !== first.start || probeEnd === undefined || probeEnd <= first.start) {
    ctx.signal.removeEventListener('abort', onAbort);
    log.debug(
      `blob ${descriptor.digest}: the source did not answer a bounded range (${probe.offset === first.start ? 'open-ended body' : `body from byte ${probe.offset}`}); one stream`,
    );
    if (probe.offset <= ctx.position) return { complete: false, fallback: probe };
    probe.body.destroy();
    return { complete: false };
  }
  // Connections allowed now: all of them, or (on demand) one until more prove useful.
  let wanted = settings.connectionsOnDemand === false ? connections : 1;
  let fetchedBytes = 0;
  let starvedMs = 0;
  // Starvation counts from the end of the first chunk: waiting for the first bytes says nothing
  // about the rate one connection keeps up.
  let measuredFrom: number | undefined;
  let lastDecision = 0;
  log.debug(
    `blob ${descriptor.digest}: ${slots.filter((s) => !s.local).length} ranges of ≤ ${chunk} bytes over ${wanted === connections ? connections : `1 of ${connections}`} connections (first answer after ${Math.round(answered - asked)} ms)`,
  );
  const decide = (now: number) => {
    if (wanted >= connections || now - lastDecision < 50) return;
    lastDecision = now;
    const next = connectionsWanted({
      current: wanted,
      max: connections,
      firstByteMs: answered - asked,
      elapsedMs: measuredFrom === undefined ? 0 : now - measuredFrom,
      starvedMs,
      fetched: fetchedBytes,
      remaining: slots.reduce((sum, s) => sum + (s.local || s.started ? 0 : s.end - s.start), 0),
      chunk,
    });
    if (next <= wanted) return;
    log.debug(
      `blob ${descriptor.digest}: ${next} connections (first answer after ${Math.round(answered - asked)} ms, consumer waited ${Math.round(starvedMs)} of ${Math.round(measuredFrom === undefined ? 0 : now - measuredFrom)} ms after the first chunk)`,
    );
    wanted = next;
    pump();
  };

  async function runSlot(slot: Slot, response?: FetchResponse): Promise<void> {
    const length = slot.end - slot.start;
    let failures = 0;
    let reconnects = 0;
    while (slot.got < length) {
      inner.signal.throwIfAborted();
      const before = slot.got;
      const at = slot.start + slot.got;
      let current = response;
      response = undefined;
      try {
        current ??= await fetchPart(at, slot.end);
        if (current.offset > at) {
          throw new OcipullError(
            'UNEXPECTED_RESPONSE',
            `asked for ${descriptor.digest} bytes ${at}-${slot.end - 1}, got bytes from ${current.offset}`,
          );
        }
        // A later answer that ignored the range (a 200) is read up to the bytes wanted.
        if (current.offset < at || current.end === undefined)
          log.debug(`blob ${descriptor.digest}: bytes ${at}-${slot.end - 1} came in an unbounded answer`);
        let skip = at - current.offset;
        for await (const raw of current.body) {
          let piece = raw as Buffer;
          if (skip > 0) {
            if (piece.length <= skip) {
              skip -= piece.length;
              continue;
            }
            piece = piece.subarray(skip);
            skip = 0;
          }
          const room = length - slot.got;
          if (piece.length > room) piece = piece.subarray(0, room);
          const offset = slot.start + slot.got;
          const count = () => {
            slot.got += piece.length;
            fetchedBytes += piece.length;
            ctx.onFetched?.(piece.length);
            notify();
          };
          if (slot.keep || !positional) {
            // Kept in memory: the consumer may take it while it is being written to the partial
            // (it is never read back from there, and every write ends before a commit).
            slot.buffers.push(piece);
            count();
            if (positional) await writer!.writeAt!(offset, piece);
          } else {
            // Read back from the partial in its turn: counted only once written there.
            await writer!.writeAt!(offset, piece);
            if (slot.keep) slot.buffers.push(piece);
            count();
          }
          if (slot.got >= length) break;
        }
        current.body.destroy();
        if (slot.got < length && slot.got === before) {
          throw new OcipullError(
            'TRUNCATED',
            `${descriptor.digest} bytes ${at}-${slot.end - 1}: the body ended after 0 bytes`,
          );
        }
        if (slot.got < length && slot.start + slot.got < (current.end ?? descriptor.size)) {
          throw new OcipullError(
            'TRUNCATED',
            `${descriptor.digest} bytes ${at}-${slot.end - 1}: the body ended at byte ${slot.start + slot.got}`,
          );
        }
      } catch (error) {
        current?.body.destroy();
        if (inner.signal.aborted || !isTransient(error)) throw error;
        failures = slot.got > before ? 1 : failures + 1;
        reconnects++;
        if (failures > retries || reconnects > retries * 20) throw error;
        const wait = Math.min(delay * 2 ** (failures - 1), 10_000) * (0.5 + Math.random() / 2);
        log.debug(
          `blob ${descriptor.digest} bytes ${slot.start}-${slot.end - 1}: ${(error as Error).message}; reconnecting at byte ${slot.start + slot.got} in ${Math.round(wait)} ms (attempt ${failures}/${retries})`,
        );
        await sleep(wait, undefined, { signal: inner.signal });
      }
    }
    slot.done = true;
    measuredFrom ??= performance.now();
    notify();
    pump();
    if (positional) await writer!.markComplete!(slot.start, slot.end);
  }

  const start = (slot: Slot, response?: FetchResponse) => {
    slot.started = true;
    const work = runSlot(slot, response).catch((error: unknown) => {
      if (fatal === undefined && !inner.signal.aborted) fatal = error;
      else fatal ??= error;
      inner.abort(error);
      notify();
    });
    workers.push(work);
  };
  // Started and not yet consumed: what the window holds (at most `connections` chunks; with one
  // connection, the chunk being consumed and one ahead, read back from the partial in its turn).
  const pump = () => {
    if (inner.signal.aborted) return;
    const window = wanted === 1 ? Math.min(2, connections) : connections;
    let held = slots.filter((s) => !s.local && s.started && !s.consumed).length;
    let running = slots.filter((s) => !s.local && s.started && !s.done).length;
    for (const slot of slots) {
      if (held >= window || running >= wanted) break;
      if (slot.local || slot.started) continue;
      start(slot);
      held++;
      running++;
    }
  };
  start(first, probe);
  pump();
  decide(performance.now());

  try {
    for (const slot of slots) {
      if (slot.local) {
        yield* readLocal(slot);
        continue;
      }
      // What arrived before this slot's turn is in the partial (unless it was kept in memory
      // already); what arrives from now on, in memory.
      const inPartial = positional && !slot.keep;
      slot.keep = true;
      if (inPartial && slot.got > 0) {
        for await (const piece of readBack(slot.start, slot.start + slot.got)) yield piece;
      }
      for (;;) {
        if (fatal !== undefined) throw fatal;
        const piece = slot.buffers.shift();
        if (piece) {
          verifier.update(piece);
          if (writer && !positional) await writer.write(piece);
          await ctx.onHanded(piece.length);
          yield piece;
          continue;
        }
        if (slot.done) break;
        const waited = performance.now();
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        const now = performance.now();
        if (measuredFrom !== undefined) starvedMs += now - Math.max(waited, measuredFrom);
        decide(now);
      }
      slot.consumed = true;
      pump();
    }
    return { complete: true };
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    // Every write to the partial ends before the caller may commit or abort the writer.
    if (!inner.signal.aborted) inner.abort(new OcipullError('INTERRUPTED', 'blob download stopped'));
    await Promise.allSettled(workers);
  }

  function readBack(from: number, to: number): AsyncGenerator<Buffer> {
    return readLocal({ start: from, end: to, local: true });
  }

  async function* readLocal(slot: Segment): AsyncGenerator<Buffer> {
    let read = 0;
    for await (const raw of writer!.readRange!(slot.start, slot.end)) {
      const piece = raw as Buffer;
      read += piece.length;
      verifier.update(piece);
      await ctx.onHanded(piece.length);
      yield piece;
    }
    if (read !== slot.end - slot.start) {
      throw new OcipullError(
        'SIZE_MISMATCH',
        `the cached partial of ${descriptor.digest} holds ${read} of the ${slot.end - slot.start} bytes its record lists at ${slot.start}`,
      );
    }
  }

  async function* consumeAll(): AsyncGenerator<Buffer, RangedOutcome> {
    for (const slot of slots) yield* readLocal(slot);
    return { complete: true };
  }
}
