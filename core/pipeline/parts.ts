import { join } from 'node:path';
import { OcipullError } from '../errors/errors.js';
import type { Part, Plan } from '../kinds/types.js';
import type { Orchestrator } from '../orchestrator.js';
import type { BlobCache, CacheOrigin } from '../types.js';
import { StagedDir } from './output-dir-staged.js';
import { PullProgress } from './pull-progress.js';
import type { Resolved } from './resolve.js';
import { type Destination, type PartOutcome, RetryFromSource, transferPart } from './transfer.js';

export interface Placed {
  outcomes: PartOutcome[];
  /** The staging directory of a `files` / `tree` output (committed by the caller). */
  staged?: StagedDir;
}

export interface PartsRequest {
  orchestrator: Orchestrator;
  resolved: Resolved;
  plan: Plan;
  output: string;
  cache?: BlobCache;
  signal: AbortSignal;
}

/** Where a part's result is recorded as coming from (the cache keeps it beside the blob). */
export function originOf(r: PartsRequest, part: Part): CacheOrigin {
  const { orchestrator, resolved, plan } = r;
  return {
    source: resolved.source.reference,
    manifestDigest: plan.manifestDescriptor.digest,
    title: part.decode.name,
    diskType: plan.diskType ?? plan.kind,
    platform: plan.platform,
    defaultSource: resolved.requested === orchestrator.settings.defaultSource,
  };
}

/** The file names of a directory output's `file` parts: plain names, each used once. */
function fileNames(plan: Plan): Map<Part, string> {
  const names = new Map<Part, string>();
  const used = new Set<string>();
  for (const part of plan.parts) {
    if (part.place.type !== 'file') continue;
    const name = part.place.name ?? part.decode.name;
    const why =
      name === undefined || name === ''
        ? 'it has no name (no place name, no title)'
        : name === '.' || name === '..' || /[/\u0000]/.test(name)
          ? `${JSON.stringify(name)} is not a plain file name`
          : used.has(name)
            ? `${JSON.stringify(name)} is the name of another part too`
            : undefined;
    if (why) {
      throw new OcipullError(
        'OUTPUT_NAME_INVALID',
        `the ${part.role} part ${part.descriptor.digest} cannot be placed in the ${plan.kind} output: ${why}`,
        {
          hint: 'a file in a directory output is named by a plain name, once: republish with distinct titles',
        },
      );
    }
    used.add(name!);
    names.set(part, name!);
  }
  return names;
}

/**
 * Wait for a part's turn; when the turn is not there yet, the part has a cache to land in and is
 * not cached already, fetch it into the cache meanwhile (its outcome: what that fetch cost).
 */
async function fetchAhead(
  r: PartsRequest,
  index: number,
  turn: Promise<void>,
  ready: boolean,
  fetch: () => Promise<PartOutcome>,
): Promise<PartOutcome | undefined> {
  if (ready || !r.cache || r.resolved.offline !== undefined) {
    await turn;
    return undefined;
  }
  if (await r.cache.peek(r.plan.parts[index]!.descriptor)) {
    await turn;
    return undefined;
  }
  const fetched = await fetch();
  await turn;
  return fetched;
}

/** Run `count` jobs, `limit` at a time; on the first failure `stop()` is called and it is thrown. */
async function runLimited<T>(
  count: number,
  limit: number,
  job: (index: number) => Promise<T>,
  stop: (error: unknown) => void,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < count && !failure) {
      const index = next++;
      try {
        results[index] = await job(index);
      } catch (error) {
        if (!failure) {
          failure = { error };
          stop(error);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, count)) }, worker));
  if (failure) throw failure.error;
  return results;
}

/**
 * Fetch, decode and place every part of the plan: `concurrency` at a time, `custom` parts of an
 * `ordered` plan one after another in plan order. A `file` output's part is written beside the
 * target and returned uncommitted; a directory output is staged beside the target (each `file`
 * part is committed into the staging directory as it completes). A part whose reused bytes proved
 * bad is fetched again from the source, once. On any failure the other parts stop and nothing is
 * left: not at the target, not in the staging directory.
 */
export async function placeParts(r: PartsRequest): Promise<Placed> {
  const { orchestrator, plan } = r;
  const settings = orchestrator.settings;
  const names = plan.output.type === 'file' ? undefined : fileNames(plan);
  const staged = names
    ? await StagedDir.create(r.output, {
        replace: settings.replace,
        companions: plan.companions,
        becomes: plan.output.type === 'tree' && plan.output.file ? 'file' : 'directory',
      })
    : undefined;
  const progress = new PullProgress(
    orchestrator.hooks,
    plan.parts.map((p) => p.descriptor.size),
  );
  const stop = new AbortController();
  const onAbort = () => stop.abort(r.signal.reason);
  if (r.signal.aborted) onAbort();
  r.signal.addEventListener('abort', onAbort, { once: true });
  // An ordered plan's custom parts wait for the one before them (and fail with it).
  const turns: Array<Promise<void>> = plan.parts.map(() => Promise.resolve());
  const settle: Array<(error?: unknown) => void> = plan.parts.map(() => () => {});
  // Whether a part's turn has come (an ordered custom part's turn comes when the one before it settles).
  const ready: boolean[] = plan.parts.map(() => true);
  if (plan.ordered) {
    let previous: Promise<void> | undefined;
    plan.parts.forEach((part, index) => {
      if (part.place.type !== 'custom') return;
      if (previous) {
        ready[index] = false;
        const open = () => {
          ready[index] = true;
        };
        previous.then(open, open);
      }
      turns[index] = previous ?? Promise.resolve();
      previous = new Promise<void>((resolve, reject) => {
        settle[index] = (error) => (error === undefined ? resolve() : reject(error));
      });
      previous.catch(() => {});
    });
  }
  const destination = (part: Part): Destination => {
    if (!staged) return { type: 'file', path: r.output, replace: settings.replace };
    if (part.place.type === 'custom') return { type: 'custom', staging: staged.path };
    return { type: 'file', path: join(staged.path, names!.get(part)!), replace: false };
  };
  const attempt = async (index: number, to: Destination): Promise<PartOutcome> => {
    const part = plan.parts[index]!;
    const run = {
      orchestrator,
      source: r.resolved.source,
      plan,
      part,
      index,
      destination: to,
      cache: r.cache,
      origin: originOf(r, part),
      signal: stop.signal,
      progress,
      offline: r.resolved.offline !== undefined,
      retried: false,
    };
    try {
      return await transferPart(run);
    } catch (error) {
      if (!(error instanceof RetryFromSource)) throw error;
      orchestrator.log.warn(error.message);
      return await transferPart({ ...run, retried: true });
    }
  };
  const runPart = async (index: number): Promise<PartOutcome> => {
    const part = plan.parts[index]!;
    // A part waiting for its turn is fetched into the cache meanwhile (layers download
    // concurrently, are applied in order); at its turn it is placed from the cache entry.
    const ahead = await fetchAhead(r, index, turns[index]!, ready[index]!, () =>
      attempt(index, { type: 'cache' }),
    );
    stop.signal.throwIfAborted();
    let outcome = await attempt(index, destination(part));
    if (ahead)
      outcome = { ...outcome, cacheHit: false, bytesFetched: ahead.bytesFetched + outcome.bytesFetched };
    // A file inside a staging directory is committed there at once (the directory is the unit).
    if (staged && outcome.out) {
      await outcome.out.commit();
      const { out: _committed, ...rest } = outcome;
      outcome = rest;
    }
    return outcome;
  };
  try {
    const outcomes = await runLimited(
      plan.parts.length,
      settings.concurrency ?? 3,
      (index) =>
        runPart(index).then(
          (outcome) => {
            settle[index]!();
            return outcome;
          },
          (error: unknown) => {
            settle[index]!(error ?? new Error('part failed'));
            throw error;
          },
        ),
      (error) => stop.abort(error),
    );
    return { outcomes, ...(staged ? { staged } : {}) };
  } catch (error) {
    await staged?.discard();
    throw error;
  } finally {
    r.signal.removeEventListener('abort', onAbort);
  }
}
