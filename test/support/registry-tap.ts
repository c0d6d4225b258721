/**
 * A transparent HTTP tap in front of the real registry (test/support/registry.ts): every request
 * is forwarded unchanged to docker-registry and its answer streamed back unchanged, while the
 * tap records what was asked (method, path, headers, the registry's status) in the same shape as
 * the fake registry's `requests`. It injects nothing unless told to: `throttle` paces a blob
 * body (so a test can kill a pull mid-blob), `cutAfter` closes the connection after N body bytes
 * (an interrupted transfer), `down` refuses connections (an unreachable registry).
 */
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface TapRequest {
  n: number;
  kind: 'ping' | 'manifest' | 'blob' | 'tags' | 'other';
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  reference?: string;
  repository?: string;
  /** The registry's status (set when its answer arrives). */
  status?: number;
  /** The registry's response headers. */
  responseHeaders?: IncomingHttpHeaders;
}

interface Pacing {
  match: (r: TapRequest) => boolean;
  times: number;
  chunkBytes?: number;
  delayMs?: number;
  cutAfterBytes?: number;
}

export class RegistryTap {
  readonly requests: TapRequest[] = [];
  /** When true, connections are destroyed as they arrive. */
  down = false;
  private pacing: Pacing[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly upstream: string,
  ) {}

  /** `127.0.0.1:PORT` of the tap. */
  get addr(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  static async start(upstream: string): Promise<RegistryTap> {
    const server = createServer();
    const tap = new RegistryTap(server, upstream);
    server.on('connection', (socket) => {
      if (tap.down) return void socket.destroy();
      tap.sockets.add(socket);
      socket.on('close', () => tap.sockets.delete(socket));
    });
    server.on('request', (req, res) => {
      const path = req.url ?? '/';
      const record: TapRequest = {
        n: tap.requests.length + 1,
        method: req.method ?? 'GET',
        path,
        headers: req.headers,
        ...classify(path),
      };
      tap.requests.push(record);
      const rule = tap.pacing.find((p) => p.times > 0 && p.match(record));
      if (rule) rule.times--;
      const [host, port] = upstream.split(':');
      const forward = request(
        { host, port: Number(port), method: req.method, path, headers: req.headers },
        async (answer) => {
          record.status = answer.statusCode;
          record.responseHeaders = answer.headers;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          if (!rule) return void answer.pipe(res);
          let sent = 0;
          for await (const chunk of answer as AsyncIterable<Buffer>) {
            const step = rule.chunkBytes ?? chunk.length;
            for (let at = 0; at < chunk.length; at += step) {
              let piece = chunk.subarray(at, at + step);
              if (rule.cutAfterBytes !== undefined && sent + piece.length >= rule.cutAfterBytes) {
                piece = piece.subarray(0, rule.cutAfterBytes - sent);
                await new Promise<void>((resolve) => res.write(piece, () => resolve()));
                answer.destroy();
                return void res.socket?.destroy();
              }
              sent += piece.length;
              if (!res.write(piece)) await new Promise((resolve) => res.once('drain', resolve));
              if (rule.delayMs) await sleep(rule.delayMs);
              if (res.destroyed) return void answer.destroy();
            }
          }
          res.end();
        },
      );
      forward.on('error', () => res.socket?.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return tap;
  }

  /** Pace the next `times` bodies of matching requests (blob GETs by default). */
  throttle(options: Omit<Pacing, 'match'> & { match?: Pacing['match'] }): void {
    this.pacing.push({ match: (r) => r.kind === 'blob' && r.method === 'GET', ...options });
  }

  /** Back to a plain pass-through. */
  clear(): void {
    this.pacing = [];
    this.down = false;
  }

  of(kind: TapRequest['kind']): TapRequest[] {
    return this.requests.filter((r) => r.kind === kind);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function classify(path: string): Pick<TapRequest, 'kind' | 'reference' | 'repository'> {
  const clean = path.split('?')[0]!;
  if (clean === '/v2/' || clean === '/v2') return { kind: 'ping' };
  const m = /^\/v2\/(.+)\/(manifests|blobs|tags)\/([^/]+)$/.exec(clean);
  if (!m) return { kind: 'other' };
  const kind = m[2] === 'manifests' ? 'manifest' : m[2] === 'blobs' ? 'blob' : 'tags';
  return { kind, repository: m[1], reference: m[3] };
}
