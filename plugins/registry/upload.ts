/**
 * Blob uploads (distribution spec "Pushing blobs"): `POST /v2/NAME/blobs/uploads/` opens a
 * session; a small blob goes up in one `PUT <location>?digest=` with its bytes (monolithic),
 * a large one in `PATCH` chunks with `Content-Range` and a closing `PUT ?digest=`. Each request
 * is retried by the HTTP layer like pulls; a chunk the registry already took before a retry
 * (416) is checked against the session's `Range` and skipped. Cross-repository mounts:
 * `POST ...?mount=DIGEST&from=REPO` (201 mounted, 202 a plain session instead).
 */
import type { Readable } from 'node:stream';
import { type Descriptor, type Logger, OcipullError } from 'ocipull';
import type { RegistryClient } from './client.js';
import { isHtml, statusError } from './errors.js';
import { discard, type HttpResponse, header } from './http.js';

/** Blobs up to this size go up in one request. */
export const MONOLITHIC_MAX = 32 * 1024 * 1024;
/** Chunk size of chunked uploads. */
export const CHUNK_SIZE = 16 * 1024 * 1024;

export interface PushContext {
  client: RegistryClient;
  repository: string;
  signal: AbortSignal;
  log: Logger;
}

const PUSH = 'pull,push';

/** A push refused: 401/403 keep their codes (with a push-specific hint), anything else is PUSH_FAILED. */
export async function pushError(
  ctx: PushContext,
  response: HttpResponse,
  what: string,
): Promise<OcipullError> {
  const denied = response.status === 401 || response.status === 403;
  const html = isHtml(response);
  const error = await statusError(response, {
    what,
    notFound: 'NAME_UNKNOWN',
    credentials: denied
      ? `${await ctx.client.credentialHint(ctx.repository)}; pushing needs push access (scope repository:${ctx.repository}:pull,push)`
      : undefined,
  });
  if (denied || response.status >= 429 || html) return error;
  const registryCodes = (error.data as { registryErrors?: string[] } | undefined)?.registryErrors ?? [];
  if (registryCodes.includes('DENIED')) {
    return new OcipullError('DENIED', error.message, { hint: error.hint, data: error.data, cause: error });
  }
  return new OcipullError('PUSH_FAILED', error.message, { data: error.data, cause: error });
}

function withDigest(location: string, digest: string): string {
  const url = new URL(location, 'http://placeholder');
  url.searchParams.set('digest', digest);
  return /^https?:\/\//.test(location) ? url.href : `${url.pathname}${url.search}`;
}

function locationOf(response: HttpResponse, what: string): string {
  const location = header(response, 'location');
  if (!location)
    throw new OcipullError(
      'PUSH_FAILED',
      `${what}: the registry answered ${response.status} without a Location`,
    );
  return location;
}

/** Open an upload session, or mount `from`'s blob (true: mounted, nothing more to do). */
async function open(
  ctx: PushContext,
  descriptor: Descriptor,
  from?: string,
): Promise<{ mounted: true } | { location: string }> {
  const { client, repository, signal, log } = ctx;
  const query = from
    ? `?mount=${encodeURIComponent(descriptor.digest)}&from=${encodeURIComponent(from)}`
    : '';
  const what = from
    ? `mount ${descriptor.digest} from ${client.host}/${from} into ${repository}`
    : `upload of ${descriptor.digest} to ${client.host}/${repository}`;
  const response = await client.request(repository, `/v2/${repository}/blobs/uploads/${query}`, {
    method: 'POST',
    headers: { 'content-length': '0' },
    actions: PUSH,
    scopes: from ? [`repository:${from}:pull`] : undefined,
    what,
    signal,
    log,
  });
  if (from && response.status === 201) {
    await discard(response);
    return { mounted: true };
  }
  if (response.status !== 202) throw await pushError(ctx, response, what);
  await discard(response);
  return { location: locationOf(response, what) };
}

/** Try a cross-repository mount; a session the registry opened instead is cancelled. */
export async function mountBlob(ctx: PushContext, descriptor: Descriptor, from: string): Promise<boolean> {
  let opened: Awaited<ReturnType<typeof open>>;
  try {
    opened = await open(ctx, descriptor, from);
  } catch (error) {
    ctx.log.debug(`${(error as Error).message}; uploading instead`);
    return false;
  }
  if ('mounted' in opened) return true;
  const cancel = await ctx.client
    .request(ctx.repository, opened.location, {
      method: 'DELETE',
      actions: PUSH,
      what: 'cancel upload',
      signal: ctx.signal,
      log: ctx.log,
    })
    .catch(() => undefined);
  if (cancel) await discard(cancel);
  return false;
}

async function readExactly(stream: AsyncIterator<Buffer>, pending: Buffer[], size: number): Promise<Buffer> {
  let have = pending.reduce((n, b) => n + b.length, 0);
  while (have < size) {
    const { value, done } = await stream.next();
    if (done) break;
    pending.push(value);
    have += value.length;
  }
  const all = Buffer.concat(pending.splice(0));
  if (all.length > size) pending.push(all.subarray(size));
  return all.subarray(0, size);
}

async function finish(
  ctx: PushContext,
  location: string,
  descriptor: Descriptor,
  body?: Buffer,
): Promise<void> {
  const what = `upload of ${descriptor.digest} to ${ctx.client.host}/${ctx.repository}`;
  const response = await ctx.client.request(ctx.repository, withDigest(location, descriptor.digest), {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(body?.length ?? 0) },
    body,
    actions: PUSH,
    what,
    signal: ctx.signal,
    log: ctx.log,
  });
  if (response.status !== 201) throw await pushError(ctx, response, what);
  await discard(response);
  const stored = header(response, 'docker-content-digest');
  if (stored && stored !== descriptor.digest) {
    throw new OcipullError('DIGEST_MISMATCH', `${what}: the registry stored ${stored}`);
  }
}

/** After a 416 on a retried PATCH: did the registry already take bytes up to `end` (exclusive)? */
async function alreadyHas(ctx: PushContext, location: string, end: number): Promise<string | undefined> {
  const response = await ctx.client.request(ctx.repository, location, {
    actions: PUSH,
    what: 'upload status',
    signal: ctx.signal,
    log: ctx.log,
  });
  await discard(response);
  const range = /^(?:bytes=)?0-(\d+)$/.exec(header(response, 'range') ?? '');
  return response.status === 204 && range && Number(range[1]) + 1 === end
    ? (header(response, 'location') ?? location)
    : undefined;
}

/** Upload a blob's bytes (monolithic when small, chunked otherwise). */
export async function uploadBlob(ctx: PushContext, descriptor: Descriptor, input: Readable): Promise<void> {
  const opened = await open(ctx, descriptor);
  if (!('location' in opened)) return;
  let location = opened.location;
  const iterator = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const pending: Buffer[] = [];
  try {
    if (descriptor.size <= MONOLITHIC_MAX) {
      const bytes = await readExactly(iterator, pending, descriptor.size);
      if (bytes.length !== descriptor.size)
        throw new OcipullError(
          'SIZE_MISMATCH',
          `blob ${descriptor.digest} ended after ${bytes.length} of ${descriptor.size} bytes`,
        );
      await finish(ctx, location, descriptor, bytes);
      return;
    }
    const what = `chunked upload of ${descriptor.digest} to ${ctx.client.host}/${ctx.repository}`;
    for (let offset = 0; offset < descriptor.size; ) {
      const chunk = await readExactly(iterator, pending, Math.min(CHUNK_SIZE, descriptor.size - offset));
      if (chunk.length === 0)
        throw new OcipullError(
          'SIZE_MISMATCH',
          `blob ${descriptor.digest} ended after ${offset} of ${descriptor.size} bytes`,
        );
      const end = offset + chunk.length;
      const response = await ctx.client.request(ctx.repository, location, {
        method: 'PATCH',
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(chunk.length),
          'content-range': `${offset}-${end - 1}`,
        },
        body: chunk,
        actions: PUSH,
        what,
        signal: ctx.signal,
        log: ctx.log,
      });
      if (response.status === 202) {
        await discard(response);
        location = locationOf(response, what);
      } else if (response.status === 416) {
        await discard(response);
        const next = await alreadyHas(ctx, location, end);
        if (!next)
          throw new OcipullError(
            'PUSH_FAILED',
            `${what}: the registry refused bytes ${offset}-${end - 1} (416)`,
          );
        location = next;
      } else {
        throw await pushError(ctx, response, what);
      }
      offset = end;
      ctx.log.debug(`${what}: ${end}/${descriptor.size} bytes`);
    }
    await finish(ctx, location, descriptor);
  } finally {
    input.destroy();
  }
}
