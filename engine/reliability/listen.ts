/**
 * HTTP listeners that hold up against slow clients and drain on shutdown.
 *
 * - `headersTimeoutMs` bounds how long a client may take to send its headers
 *   (slowloris), `requestTimeoutMs` the whole request; Node checks both every
 *   `connectionsCheckingInterval`, set here to a fraction of the smaller one so
 *   a slow client is cut off close to its limit, not up to 30 s later.
 * - `drain()` stops accepting, closes idle keep-alive sockets, lets in-flight
 *   requests finish (their responses carry `Connection: close`, see the app),
 *   and after `timeoutMs` cuts whatever is left.
 */
import { serve } from '@hono/node-server';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ListenOptions {
  readonly port: number;
  readonly host: string;
  /** Default 10 s. */
  readonly headersTimeoutMs?: number;
  /** Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Idle keep-alive sockets close after this (default 5 s). */
  readonly keepAliveTimeoutMs?: number;
  /**
   * Runs before the app on every request; true when it answered the request itself (load
   * shedding: a 503 written here costs a fraction of what routing and reading the body do).
   */
  readonly gate?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export async function listen(fetch: (req: Request) => Response | Promise<Response>, opts: ListenOptions): Promise<{ server: Server; port: number }> {
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  const requestTimeout = Math.max(opts.requestTimeoutMs ?? 30_000, headersTimeout);
  const server: Server = await new Promise((resolve, reject) => {
    const s = serve({
      fetch,
      port: opts.port,
      hostname: opts.host,
      serverOptions: {
        headersTimeout,
        requestTimeout,
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
        keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5_000,
      },
    }, () => resolve(s as Server)) as Server;
    s.once('error', reject);
  });
  const gate = opts.gate;
  if (gate) {
    const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (gate(req, res)) return;
      for (const h of handlers) h(req, res);
    });
  }
  return { server, port: (server.address() as AddressInfo).port };
}

/** Stop accepting, let in-flight requests finish, cut the rest after `timeoutMs`. */
export async function drain(server: Server, timeoutMs: number): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), timeoutMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
