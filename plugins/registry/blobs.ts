/**
 * `GET /v2/NAME/blobs/DIGEST`, from an offset with `Range: bytes=N-` (and `If-Range` when a
 * validator is known). The answer's real offset is reported: 0 when the server ignored Range
 * (200), the Content-Range start for 206. Redirects to storage hosts are followed by the HTTP
 * layer without Authorization. Digest and size are verified by the core.
 */
import { Readable } from 'node:stream';
import { type Descriptor, type FetchResponse, OcipullError } from 'ocipull';
import type { RegistryClient, RequestOptions } from './client.js';
import { isHtml, statusError, unexpectedResponse } from './errors.js';
import { discard, displayUrl, type HttpResponse, header } from './http.js';
import { toNetworkError } from './net-errors.js';

/** `bytes 100-199/1000` → { start: 100, total: 1000 }. */
export function parseContentRange(value: string | undefined): { start: number; total?: number } | undefined {
  const match = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value ?? '');
  if (!match) return undefined;
  return { start: Number(match[1]), total: match[3] === '*' ? undefined : Number(match[3]) };
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
  options: Omit<RequestOptions, 'what' | 'headers'> & { ifRange?: string },
): Promise<FetchResponse> {
  const what = `blob ${client.host}/${repository}@${descriptor.digest}`;
  const headers: Record<string, string> = {};
  if (offset > 0) {
    headers.range = `bytes=${offset}-`;
    if (options.ifRange) headers['if-range'] = options.ifRange;
  }
  const response = await client.request(repository, `/v2/${repository}/blobs/${descriptor.digest}`, {
    ...options,
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
  }
  if (offset > 0 && start === 0)
    options.log.debug(`${what}: the server ignored Range and sent the whole blob`);
  return {
    body: guardBody(response, what, bodyLength),
    offset: start,
    total,
    etag: header(response, 'etag'),
    lastModified: header(response, 'last-modified'),
    url: displayUrl(response.url),
  };
}
