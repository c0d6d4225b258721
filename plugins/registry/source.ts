/**
 * A resolved `docker://` source: the endpoint that answered for the root (a mirror or the
 * origin) first, the others after it; the root manifest's bytes kept so the core's first fetch
 * of the root digest does not GET it again.
 */
import { Readable } from 'node:stream';
import {
  type Descriptor,
  type FetchResponse,
  isIndexMediaType,
  isManifestMediaType,
  isOcipullError,
  type Logger,
  OcipullError,
  type Source,
} from 'ocipull';
import { getBlob } from './blobs.js';
import type { RegistryClient } from './client.js';
import { readSmallBody, statusError } from './errors.js';
import type { HttpClient } from './http.js';
import { getManifest } from './manifests.js';
import { formatReference, type RegistryReference } from './reference.js';

export interface ActiveEndpoint {
  client: RegistryClient;
  repository: string;
  mirror: boolean;
}

/** Errors after which another endpoint may still have the content. */
function fallsThrough(error: unknown): boolean {
  return (
    isOcipullError(error) &&
    ['BLOB_NOT_FOUND', 'MANIFEST_NOT_FOUND', 'NAME_UNKNOWN', 'UNAUTHORIZED', 'DENIED'].includes(error.code)
  );
}

export class RegistrySource implements Source {
  readonly scheme = 'docker';
  readonly reference: string;

  constructor(
    readonly ref: RegistryReference,
    readonly endpoints: ActiveEndpoint[],
    private readonly http: HttpClient,
    readonly root?: Descriptor,
    private readonly rootBytes?: Buffer,
  ) {
    this.reference = `docker://${formatReference(ref)}`;
  }

  async fetch(
    descriptor: Descriptor,
    offset: number,
    ifRange: string | undefined,
    signal: AbortSignal,
    log: Logger,
    length?: number,
  ): Promise<FetchResponse> {
    if (this.rootBytes && this.root && descriptor.digest === this.root.digest && offset === 0) {
      return {
        body: Readable.from([this.rootBytes]),
        offset: 0,
        total: this.rootBytes.length,
        url: this.reference,
      };
    }
    let firstError: unknown;
    for (const endpoint of this.endpoints) {
      try {
        if (isIndexMediaType(descriptor.mediaType) || isManifestMediaType(descriptor.mediaType)) {
          const fetched = await getManifest(endpoint.client, endpoint.repository, descriptor.digest, {
            signal,
            log,
          });
          return {
            body: Readable.from([fetched.bytes.subarray(offset)]),
            offset,
            total: fetched.bytes.length,
            url: fetched.url,
          };
        }
        return await getBlob(endpoint.client, endpoint.repository, descriptor, offset, {
          signal,
          log,
          ifRange,
          length,
        });
      } catch (error) {
        if (!fallsThrough(error) || endpoint === this.endpoints[this.endpoints.length - 1])
          throw firstError ?? error;
        firstError ??= error;
        log.debug(`${endpoint.client.host}: ${(error as Error).message}; trying the next endpoint`);
      }
    }
    throw firstError;
  }

  /** Tags of the repository at the endpoint that answered (`GET /v2/NAME/tags/list`, paginated). */
  async listTags(signal: AbortSignal = new AbortController().signal, log?: Logger): Promise<string[]> {
    const endpoint = this.endpoints[0]!;
    const logger = log ?? silentLogger;
    const tags: string[] = [];
    let path: string | undefined = `/v2/${endpoint.repository}/tags/list?n=1000`;
    for (let page = 0; path && page < 50; page++) {
      const what = `tags of ${endpoint.client.host}/${endpoint.repository}`;
      const response = await endpoint.client.request(endpoint.repository, path, {
        what,
        signal,
        log: logger,
      });
      if (response.status !== 200) throw await statusError(response, { what, notFound: 'NAME_UNKNOWN' });
      const text = await readSmallBody(response, 8 * 1024 * 1024);
      let parsed: { tags?: unknown };
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new OcipullError('UNEXPECTED_RESPONSE', `${what}: the answer is not JSON`);
      }
      if (Array.isArray(parsed.tags))
        tags.push(...parsed.tags.filter((t): t is string => typeof t === 'string'));
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(response.headers.link ?? ''));
      path = link ? link[1] : undefined;
    }
    return tags;
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

const silentLogger: Logger = {
  level: 'silent',
  error() {},
  warn() {},
  info() {},
  debug() {},
  redact() {},
};
