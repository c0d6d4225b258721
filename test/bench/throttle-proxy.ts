/**
 * A loopback TCP proxy that makes a registry look far away: every connection gets its own
 * `bytesPerSecond` towards the client (paced, no burst saved up while idle), and every chunk a
 * client sends (a request) reaches the registry `latencyMs` later, so each request waits that long
 * for its first byte. The wide-area benchmark case runs every pipeline through it.
 */
import { type AddressInfo, createConnection, createServer, type Server, type Socket } from 'node:net';

export interface ThrottleOptions {
  /** Upstream `host:port`. */
  upstream: string;
  bytesPerSecond: number;
  latencyMs: number;
}

export interface ThrottleProxy {
  /** `127.0.0.1:PORT`. */
  addr: string;
  /** Connections accepted so far. */
  connections(): number;
  stop(): Promise<void>;
}

export async function startThrottleProxy(options: ThrottleOptions): Promise<ThrottleProxy> {
  const [host, port] = [
    options.upstream.slice(0, options.upstream.lastIndexOf(':')),
    Number(options.upstream.slice(options.upstream.lastIndexOf(':') + 1)),
  ];
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = createConnection({ host, port });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.end());
    // Requests: each arrives `latencyMs` late, in order.
    let queue = Promise.resolve();
    client.on('data', (data: Buffer) => {
      queue = queue.then(
        () =>
          new Promise<void>((resolve) =>
            setTimeout(() => {
              if (!upstream.destroyed) upstream.write(data);
              resolve();
            }, options.latencyMs),
          ),
      );
    });
    client.on('end', () => void queue.then(() => upstream.end()));
    // Answers: paced to bytesPerSecond for this connection.
    let due = 0;
    upstream.on('data', (data: Buffer) => {
      const now = performance.now();
      due = Math.max(due, now) + (data.length / options.bytesPerSecond) * 1000;
      client.write(data);
      const wait = due - now;
      if (wait > 1) {
        upstream.pause();
        setTimeout(() => upstream.resume(), wait);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    addr: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => accepted,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
