/**
 * A real upstream HTTP service for tests of remote sources: node:http on a
 * loopback port, with latency and failures injected per call and every call
 * counted (by path + query), so tests can assert "upstream calls = distinct
 * keys". `handler` decides the answer; the default serves JSON rows.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface UpstreamReply {
  readonly status?: number;
  readonly body: string | Uint8Array;
  readonly contentType?: string;
}

export interface UpstreamOptions {
  /** Answer for a request URL (path + query) and its headers; default 404. */
  readonly handler?: (url: URL, headers: IncomingMessage['headers']) => UpstreamReply | Promise<UpstreamReply>;
  /** Delay before answering, per call; default 0. */
  latencyMs?: number;
}

export interface Upstream {
  readonly url: string;
  readonly port: number;
  /** Calls received, in total and by path + query. */
  readonly calls: { total: number; readonly byUrl: Map<string, number> };
  /** Mutable: the delay of calls from now on. */
  latencyMs: number;
  /** Mutable: answer the next `n` calls with this status (e.g. 503), then normally. */
  failNext(n: number, status?: number): void;
  /** Mutable: every call fails with `status` (0 = drop the connection) until set back to undefined. */
  failAll: number | undefined;
  reset(): void;
  close(): Promise<void>;
}

export async function startUpstream(opts: UpstreamOptions = {}): Promise<Upstream> {
  let failing = 0;
  let failStatus = 503;
  const state = {
    latencyMs: opts.latencyMs ?? 0,
    failAll: undefined as number | undefined,
    calls: { total: 0, byUrl: new Map<string, number>() },
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    const key = url.pathname + url.search;
    state.calls.total++;
    state.calls.byUrl.set(key, (state.calls.byUrl.get(key) ?? 0) + 1);
    const answer = async (): Promise<void> => {
      if (state.latencyMs > 0) await new Promise((r) => setTimeout(r, state.latencyMs));
      if (state.failAll === 0) return void req.socket.destroy();
      if (state.failAll !== undefined || failing > 0) {
        const status = state.failAll ?? failStatus;
        if (failing > 0) failing--;
        res.writeHead(status, { 'content-type': 'text/plain' }).end('injected failure');
        return;
      }
      const r = opts.handler ? await opts.handler(url, req.headers) : { status: 404, body: 'no handler' };
      res.writeHead(r.status ?? 200, { 'content-type': r.contentType ?? 'application/json' }).end(r.body);
    };
    answer().catch(() => res.destroy());
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get calls() {
      return state.calls;
    },
    get latencyMs() {
      return state.latencyMs;
    },
    set latencyMs(v: number) {
      state.latencyMs = v;
    },
    get failAll() {
      return state.failAll;
    },
    set failAll(v: number | undefined) {
      state.failAll = v;
    },
    failNext(n, status = 503) {
      failing = n;
      failStatus = status;
    },
    reset() {
      state.calls.total = 0;
      state.calls.byUrl.clear();
      failing = 0;
      state.failAll = undefined;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

/** JSON rows helper: `{status: 200, body: JSON.stringify(rows)}`. */
export function json(value: unknown, status = 200): UpstreamReply {
  return { status, body: JSON.stringify(value), contentType: 'application/json' };
}
