/**
 * An in-process registry (node:http on 127.0.0.1) serving an OCI layout over the distribution
 * API, with faults scriptable per request: resets mid-body, 429 with Retry-After, 5xx bursts,
 * wrong bytes, truncated and slow or stalled bodies, a Range it ignores, HTML answers, and a
 * redirect to a "storage" host (127.0.0.2) that records whether Authorization arrived.
 *
 *   const fake = await FakeRegistry.start({ layoutDir });
 *   fake.inject({ match: 'blob', fault: { kind: 'reset', afterBytes: 1 << 20 } });
 *   fake.inject({ match: 'manifest', times: 3, fault: { kind: 'status', status: 503 } });
 *   fake.script((req) => (req.n === 2 ? { kind: 'html' } : undefined));
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export type RequestKind = 'ping' | 'manifest' | 'blob' | 'tags' | 'token' | 'storage' | 'other';

export interface FakeRequest {
  /** 1-based count over all requests to this fake (storage included). */
  n: number;
  kind: RequestKind;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Manifest tag/digest or blob digest. */
  reference?: string;
  repository?: string;
  /** Ordering marks from one counter shared by every fake in the process: when the request
   * arrived, and when its response closed (unset while in flight). No clock involved. */
  start: number;
  end?: number;
}

let tick = 0;

/** Whether two requests were in flight at once (by the shared ordering marks). */
export function overlapped(a: FakeRequest, b: FakeRequest): boolean {
  return a.start < (b.end ?? Number.POSITIVE_INFINITY) && b.start < (a.end ?? Number.POSITIVE_INFINITY);
}

export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'html'; status?: number }
  /** TCP reset after this many body bytes. */
  | { kind: 'reset'; afterBytes: number }
  /** Clean close (FIN) after this many body bytes of a longer Content-Length. */
  | { kind: 'truncate'; afterBytes: number }
  /** Send this many bytes, then nothing more while keeping the connection open. */
  | { kind: 'stall'; afterBytes: number }
  | { kind: 'wrongBytes' }
  /** `hold`: the body's end waits for it (to make two downloads overlap by construction). */
  | { kind: 'slow'; chunkBytes: number; delayMs: number; hold?: Promise<unknown> }
  | { kind: 'ignoreRange' }
  /** 307 to the storage host (other origin), which serves the blob. */
  | { kind: 'redirect' }
  /** Answer with this content type and body instead of the content. */
  | { kind: 'body'; contentType: string; body: Buffer | string; headers?: Record<string, string> }
  /**
   * The blob changed: served under this ETag (If-Range with the old one gets the whole body, 200),
   * its bytes altered when `bytesChanged`.
   */
  | { kind: 'changed'; etag: string; bytesChanged?: boolean };

export interface FaultRule {
  match: RequestKind | 'any' | ((req: FakeRequest) => boolean);
  /** How many matching requests get the fault (default 1). */
  times?: number;
  fault: Fault;
}

export interface FakeRegistryOptions {
  layoutDir: string;
  /** Repository names served (default: any). */
  repositories?: string[];
  /** Bearer: `identityToken` is the OAuth2 refresh token accepted by a POST to /token. */
  auth?: { scheme: 'basic' | 'bearer'; username: string; password: string; identityToken?: string };
  /** Serve the registry (not the storage host) over HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
}

const CHUNK = 64 * 1024;

export class FakeRegistry {
  readonly requests: FakeRequest[] = [];
  private rules: (FaultRule & { left: number })[] = [];
  private scripts: ((req: FakeRequest) => Fault | undefined)[] = [];
  private readonly tokens = new Set<string>();
  private count = 0;
  private readonly sockets = new Set<Socket>();
  addr = '';
  storageAddr = '';
  /** Faults served so far (rules and scripts that answered), for tests that count what they injected. */
  faultsServed = 0;
  /** Restarts done by `restart()`. */
  restarts = 0;
  /** Body bytes written for blob and storage requests (what a resume must not fetch again). */
  blobBytesServed = 0;

  private constructor(
    private readonly options: FakeRegistryOptions,
    private readonly server: Server | HttpsServer,
    private readonly storage: Server,
  ) {}

  static async start(options: FakeRegistryOptions): Promise<FakeRegistry> {
    let self!: FakeRegistry;
    const handler = (req: IncomingMessage, res: ServerResponse) => void self.handle(req, res, false);
    const server = options.tls
      ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler)
      : createServer(handler);
    const storage = createServer((req, res) => void self.handle(req, res, true));
    self = new FakeRegistry(options, server, storage);
    for (const s of [server, storage]) s.on('connection', (sock: Socket) => self.track(sock));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => storage.listen(0, '127.0.0.2', resolve));
    self.addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    self.storageAddr = `127.0.0.2:${(storage.address() as AddressInfo).port}`;
    return self;
  }

  private track(sock: Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
  }

  inject(rule: FaultRule): this {
    this.rules.push({ ...rule, left: rule.times ?? 1 });
    return this;
  }

  script(fn: (req: FakeRequest) => Fault | undefined): this {
    this.scripts.push(fn);
    return this;
  }

  /** Forget faults and scripts (the request log stays). */
  clearFaults(): void {
    this.rules = [];
    this.scripts = [];
  }

  /** Invalidate every issued bearer token (the next request gets 401 and must renew). */
  expireTokens(): void {
    this.tokens.clear();
  }

  of(kind: RequestKind): FakeRequest[] {
    return this.requests.filter((r) => r.kind === kind);
  }

  /**
   * A registry restart: drop every connection, stop listening for `downMs` (connections are
   * refused), then listen on the same port again. Faults, scripts and tokens survive it.
   */
  async restart(downMs = 200): Promise<void> {
    this.restarts++;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
    await sleep(downMs);
    const port = Number(this.addr.slice(this.addr.lastIndexOf(':') + 1));
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(
      [this.server, this.storage].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
  }

  private classify(path: string, isStorage: boolean): Pick<FakeRequest, 'kind' | 'reference' | 'repository'> {
    if (isStorage) return { kind: 'storage', reference: /\/storage\/([^/?]+)/.exec(path)?.[1] };
    if (path === '/v2/' || path === '/v2') return { kind: 'ping' };
    if (path.startsWith('/token')) return { kind: 'token' };
    const m = /^\/v2\/(.+)\/(manifests|blobs|tags)\/([^/?]+)/.exec(path);
    if (!m) return { kind: 'other' };
    const kind = m[2] === 'manifests' ? 'manifest' : m[2] === 'blobs' ? 'blob' : 'tags';
    return { kind, repository: m[1], reference: m[3] };
  }

  private faultFor(req: FakeRequest): Fault | undefined {
    const fault = this.pickFault(req);
    if (fault) this.faultsServed++;
    return fault;
  }

  private pickFault(req: FakeRequest): Fault | undefined {
    for (const fn of this.scripts) {
      const fault = fn(req);
      if (fault) return fault;
    }
    for (const rule of this.rules) {
      if (rule.left <= 0) continue;
      const hit =
        typeof rule.match === 'function' ? rule.match(req) : rule.match === 'any' || rule.match === req.kind;
      if (hit) {
        rule.left--;
        return rule.fault;
      }
    }
    return undefined;
  }

  private authorized(req: IncomingMessage): boolean {
    const auth = this.options.auth;
    if (!auth) return true;
    const header = req.headers.authorization ?? '';
    if (auth.scheme === 'basic') {
      return header === `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    }
    return header.startsWith('Bearer ') && this.tokens.has(header.slice('Bearer '.length));
  }

  private challenge(): string {
    const auth = this.options.auth!;
    return auth.scheme === 'basic'
      ? 'Basic realm="fake-registry"'
      : `Bearer realm="${this.options.tls ? 'https' : 'http'}://${this.addr}/token",service="fake-registry"`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse, isStorage: boolean): Promise<void> {
    const path = req.url ?? '/';
    const info: FakeRequest = {
      n: ++this.count,
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      ...this.classify(path, isStorage),
      start: ++tick,
    };
    res.once('close', () => {
      info.end = ++tick;
    });
    this.requests.push(info);
    try {
      if (info.kind === 'token') return await this.token(req, res);
      const fault = this.faultFor(info);
      if (fault?.kind === 'status') {
        res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
        return void res.end(
          fault.body ?? JSON.stringify({ errors: [{ code: 'FAULT', message: `injected ${fault.status}` }] }),
        );
      }
      if (fault?.kind === 'html') {
        res.writeHead(fault.status ?? 200, { 'content-type': 'text/html; charset=utf-8' });
        return void res.end('<!doctype html><html><body>Please log in to the Wi-Fi</body></html>');
      }
      if (fault?.kind === 'body') {
        res.writeHead(200, { 'content-type': fault.contentType, ...fault.headers });
        return void res.end(fault.body);
      }
      if (!isStorage && info.kind !== 'other' && !this.authorized(req)) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': this.challenge() });
        return void res.end(
          JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }),
        );
      }
      if (info.kind === 'ping') {
        res.writeHead(200, {
          'content-type': 'application/json',
          'docker-distribution-api-version': 'registry/2.0',
        });
        return void res.end('{}');
      }
      if (
        info.repository &&
        this.options.repositories &&
        !this.options.repositories.includes(info.repository)
      ) {
        return this.notFound(
          res,
          'NAME_UNKNOWN',
          `repository name not known to registry: ${info.repository}`,
        );
      }
      if (info.kind === 'manifest') return await this.manifest(info, res, fault);
      // On a storage request, a redirect fault adds one more hop (a redirect chain).
      if ((info.kind === 'blob' || info.kind === 'storage') && fault?.kind === 'redirect') {
        res.writeHead(307, {
          location: `http://${this.storageAddr}/storage/${info.reference}?X-Signature=abc&hop=${info.n}`,
        });
        return void res.end();
      }
      if (info.kind === 'blob' || info.kind === 'storage') return await this.blob(info, req, res, fault);
      if (info.kind === 'tags') {
        const tags = (await this.index()).manifests
          .map((m) => m.annotations?.['org.opencontainers.image.ref.name'])
          .filter(Boolean);
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ name: info.repository, tags }));
      }
      this.notFound(res, 'UNSUPPORTED', 'not part of the fake');
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    }
  }

  /** Bodies of POSTs to /token (OAuth2 refresh-token grants), parsed. */
  readonly tokenPosts: Record<string, string>[] = [];

  private async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = this.options.auth;
    const basic = auth ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` : '';
    let ok = req.headers.authorization === basic;
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      this.tokenPosts.push(form);
      ok =
        form.grant_type === 'refresh_token' &&
        auth?.identityToken !== undefined &&
        form.refresh_token === auth.identityToken;
    }
    if (!ok) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
    }
    const token = randomBytes(16).toString('hex');
    this.tokens.add(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, expires_in: 300 }));
  }

  private notFound(res: ServerResponse, code: string, message: string): void {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code, message }] }));
  }

  private async index(): Promise<{
    manifests: { digest: string; mediaType: string; annotations?: Record<string, string> }[];
  }> {
    return JSON.parse(await fsp.readFile(join(this.options.layoutDir, 'index.json'), 'utf8'));
  }

  private async readBlob(digest: string): Promise<Buffer | undefined> {
    const [alg, hex] = digest.split(':');
    if (!alg || !hex || !/^[a-f0-9]+$/.test(hex)) return undefined;
    return fsp.readFile(join(this.options.layoutDir, 'blobs', alg, hex)).catch(() => undefined);
  }

  private async manifest(info: FakeRequest, res: ServerResponse, fault: Fault | undefined): Promise<void> {
    const ref = info.reference!;
    let digest = ref;
    if (!ref.includes(':')) {
      const entry = (await this.index()).manifests.find(
        (m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref,
      );
      if (!entry) return this.notFound(res, 'MANIFEST_UNKNOWN', `manifest unknown: ${ref}`);
      digest = entry.digest;
    }
    const bytes = await this.readBlob(digest);
    if (!bytes) return this.notFound(res, 'MANIFEST_UNKNOWN', `manifest unknown: ${ref}`);
    const mediaType =
      (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ??
      'application/vnd.oci.image.manifest.v1+json';
    await this.send(
      res,
      bytes,
      { 'content-type': mediaType, 'docker-content-digest': digest },
      fault,
      undefined,
    );
  }

  private async blob(
    info: FakeRequest,
    req: IncomingMessage,
    res: ServerResponse,
    fault: Fault | undefined,
  ): Promise<void> {
    const bytes = await this.readBlob(info.reference ?? '');
    if (!bytes) return this.notFound(res, 'BLOB_UNKNOWN', `blob unknown: ${info.reference}`);
    const changed = fault?.kind === 'changed' ? fault : undefined;
    let body = bytes;
    if (changed?.bytesChanged) {
      body = Buffer.from(bytes);
      body[0]! ^= 0xff;
      body[body.length - 1]! ^= 0xff;
    }
    const etag = changed ? changed.etag : `"${info.reference}"`;
    // If-Range (RFC 9110 13.1.5): a validator other than the current ETag gets the whole body.
    const ifRange = req.headers['if-range'];
    const range = ifRange !== undefined && ifRange !== etag ? undefined : req.headers.range;
    await this.send(res, body, { 'content-type': 'application/octet-stream', etag }, fault, range, true);
  }

  private async send(
    res: ServerResponse,
    all: Buffer,
    headers: Record<string, string>,
    fault: Fault | undefined,
    range: string | undefined,
    countBytes = false,
  ): Promise<void> {
    let start = 0;
    let stop = all.length;
    // `bytes=N-` and bounded `bytes=N-M` (parallel ranged downloads).
    const m = /^bytes=(\d+)-(\d*)$/.exec(range ?? '');
    if (m && fault?.kind !== 'ignoreRange') {
      start = Number(m[1]);
      if (m[2]) stop = Math.min(all.length, Number(m[2]) + 1);
    }
    let body = all.subarray(start, stop);
    if (fault?.kind === 'wrongBytes') {
      body = Buffer.from(body);
      if (body.length > 0) body[body.length >> 1]! ^= 0xff;
    }
    const status = start > 0 || stop < all.length ? 206 : 200;
    res.writeHead(status, {
      ...headers,
      'content-length': String(body.length),
      'accept-ranges': 'bytes',
      ...(status === 206 ? { 'content-range': `bytes ${start}-${stop - 1}/${all.length}` } : {}),
    });
    const limit =
      fault?.kind === 'reset' || fault?.kind === 'truncate' || fault?.kind === 'stall'
        ? Math.min(fault.afterBytes, body.length)
        : body.length;
    const step = fault?.kind === 'slow' ? fault.chunkBytes : CHUNK;
    for (let at = 0; at < limit; at += step) {
      const piece = body.subarray(at, Math.min(at + step, limit));
      // The last piece waits for `hold`, so the client cannot finish before it resolves.
      if (fault?.kind === 'slow' && fault.hold && at + step >= limit) await fault.hold;
      if (countBytes) this.blobBytesServed += piece.length;
      if (!res.write(piece)) await new Promise((resolve) => res.once('drain', resolve));
      if (fault?.kind === 'slow') await sleep(fault.delayMs);
      if (res.destroyed) return;
    }
    if (limit === body.length) return void res.end();
    // Let the bytes written so far reach the client before the fault.
    await new Promise<void>((resolve) => res.socket?.write('', () => resolve()) ?? resolve());
    if (fault?.kind === 'reset') res.socket?.resetAndDestroy();
    else if (fault?.kind === 'truncate') res.socket?.end();
    // stall: nothing more; the client's body timeout (or stop()) ends it.
  }
}
