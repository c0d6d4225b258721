/**
 * `GET /v2/NAME/blobs/DIGEST`, from an offset with `Range: bytes=N-` (and `If-Range` when a
 * validator is known), or one bounded range `bytes=N-M` when a length is asked for (parallel
 * ranged downloads). The answer's real offset is reported: 0 when the server ignored Range
 * (200), the Content-Range start for 206, and its end when the range was bounded. Redirects to
 * storage hosts are followed per request by the HTTP layer without Authorization. Digest and
 * size are verified by the core.
 */
import { Readable } from 'node:stream';
import { type Descriptor, type FetchResponse, isAbortError, OcipullError } from 'ocipull';
import type { RegistryClient, RequestOptions } from './client.js';
import { isHtml, statusError, unexpectedResponse } from './errors.js';
import { discard, displayUrl, type HttpResponse, header } from './http.js';
import { toNetworkError } from './net-errors.js';

/** `bytes 100-199/1000` → { start: 100, end: 200, total: 1000 } (`end` exclusive). */
export function parseContentRange(
  value: string | undefined,
): { start: number; end: number; total?: number } | undefined {
  const match = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value ?? '');
  if (!match) return undefined;
  return {
    start: Number(match[1]),
    end: Number(match[2]) + 1,
    total: match[3] === '*' ? undefined : Number(match[3]),
  };
}

/** Body errors become ocipull codes (NETWORK, TIMEOUT, TRUNCATED) the core knows to resume after. */
function guardBody(response: HttpResponse, what: string, expected: number | undefined): Readable {
  const source = response.body;
  async function* chunks(): AsyncGenerator<Buffer> {
    let seen = 0;
    try {
      for await (const chunk of source) {
        seen += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    } catch (error) {
      // The run's own abort is that, not a network failure (the core reports it as INTERRUPTED).
      if (isAbortError(error)) throw error;
      throw toNetworkError(error, `${what} (${displayUrl(response.url)}) after ${seen} bytes`);
    }
    if (expected !== undefined && seen < expected) {
      throw new OcipullError('TRUNCATED', `${what}: body ended after ${seen} of ${expected} bytes`);
    }
  }
  // No read-ahead here: bytes already received must reach the core before an error ends the stream
  // (a destroyed stream drops what it buffered), so the cache keeps every byte that arrived.
  const out = Readable.from(chunks(), { objectMode: false, highWaterMark: 0 });
  out.once('close', () => {
    if (!source.destroyed) source.destroy();
  });
  return out;
}

export async function getBlob(
  client: RegistryClient,
  repository: string,
  descriptor: Descriptor,
  offset: number,
  options: Omit<RequestOptions, 'what' | 'headers'> & { ifRange?: string; length?: number },
): Promise<FetchResponse> {
  const { ifRange, length: wanted, ...request } = options;
  const bounded = wanted !== undefined && wanted > 0 && offset + wanted < descriptor.size;
  const what = `blob ${client.host}/${repository}@${descriptor.digest}${bounded ? ` bytes ${offset}-${offset + wanted - 1}` : ''}`;
  const headers: Record<string, string> = {};
  if (bounded) headers.range = `bytes=${offset}-${offset + wanted - 1}`;
  else if (offset > 0) headers.range = `bytes=${offset}-`;
  if (headers.range && ifRange) headers['if-range'] = ifRange;
  const response = await client.request(repository, `/v2/${repository}/blobs/${descriptor.digest}`, {
    ...request,
    what,
    headers,
  });
  if (response.status !== 200 && response.status !== 206) {
    throw await statusError(response, {
      what,
      notFound: 'BLOB_NOT_FOUND',
      credentials:
        response.status === 401 || response.status === 403
          ? await client.credentialHint(repository)
          : undefined,
    });
  }
  if (isHtml(response)) {
    await discard(response);
    throw unexpectedResponse(response, what, 'an HTML page instead of blob bytes');
  }
  const length = header(response, 'content-length');
  const bodyLength = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
  let start = 0;
  let end: number | undefined;
  let total: number | undefined = response.status === 200 ? bodyLength : undefined;
  if (response.status === 206) {
    const range = parseContentRange(header(response, 'content-range'));
    if (!range) {
      await discard(response);
      throw unexpectedResponse(
        response,
        what,
        `206 with an unreadable Content-Range ${JSON.stringify(header(response, 'content-range'))}`,
      );
    }
    start = range.start;
    total = range.total;
    // Only a bounded answer says where it stops; an open one runs to the blob's end.
    if (range.end < (range.total ?? descriptor.size)) end = range.end;
  }
  if (headers.range && response.status === 200)
    options.log.debug(`${what}: the server ignored Range and sent the whole blob`);
  return {
    body: guardBody(response, what, bodyLength),
    offset: start,
    total,
    etag: header(response, 'etag'),
    lastModified: header(response, 'last-modified'),
    url: displayUrl(response.url),
    ...(end !== undefined ? { end } : {}),
  };
}
