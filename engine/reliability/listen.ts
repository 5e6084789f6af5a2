/**
 * HTTP listeners that hold up against slow clients and drain on shutdown.
 *
 * - `headersTimeoutMs` bounds how long a client may take to send its headers
 *   (slowloris), `requestTimeoutMs` the whole request; Node checks both every
 *   `connectionsCheckingInterval`, set here to a fraction of the smaller one so
 *   a slow client is cut off close to its limit, not up to 30 s later. The
 *   408 it gets carries the JSON error body every other error has (`refusal`).
 * - A request with `Expect: 100-continue` whose Content-Length is over
 *   `bodyLimit` gets no 100 Continue: the app answers 413 before the body is sent.
 * - `drain()` stops accepting, closes idle keep-alive sockets, lets in-flight
 *   requests finish (their responses carry `Connection: close`, see the app),
 *   and after `timeoutMs` cuts whatever is left.
 */
import { serve } from '@hono/node-server';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';

/** The refusals written outside the app, and the JSON body each carries. */
export type Refusal = 'REQUEST_TIMEOUT' | 'REQUEST_MALFORMED' | 'HEADERS_TOO_LARGE' | 'BODY_TOO_LARGE';

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
  /** The JSON text of a refusal written outside the app (a 408 to a slow client). */
  readonly refusal?: (code: Refusal, message: string, tookMs: number) => string;
  /** `Expect: 100-continue` with a Content-Length over this gets no 100 Continue (the app's 413 instead). */
  readonly bodyLimit?: number;
}

/** What a request Node's parser refused gets: the status line and code; any other parse error is a 400. */
const PARSE_REFUSALS: Readonly<Record<string, { readonly status: string; readonly code: Refusal; readonly message: string }>> = {
  HPE_HEADER_OVERFLOW: { status: '431 Request Header Fields Too Large', code: 'HEADERS_TOO_LARGE', message: 'the request line and headers exceed the server\'s limit (16 KiB by default)' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: '413 Payload Too Large', code: 'BODY_TOO_LARGE', message: 'the chunk extensions of the body exceed the server\'s limit' },
};

const defaultRefusal = (code: Refusal, message: string, tookMs: number): string => JSON.stringify({ error: true, code, reason: message, took_ms: tookMs });

/**
 * Answers a client error as Node would (only when nothing of a response has been written yet), with
 * the JSON error body every other error has: a timeout's 408, a 431 for headers over the limit, and
 * a 400 `REQUEST_MALFORMED` naming what the parser refused (an unknown method, a bad header, both
 * Content-Length and Transfer-Encoding). Node's own answers had an empty body.
 */
function onClientError(err: NodeJS.ErrnoException, socket: Socket, refusal: (code: Refusal, message: string, tookMs: number) => string, timeouts: { headers: number; request: number }): void {
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  // The request never reached the app: it gets an id here.
  const answer = (status: string, body: string): string =>
    `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: application/json\r\nX-Request-Id: ${randomUUID()}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    // Its time is the timeout that ran out.
    const ms = inFlight ? timeouts.request : timeouts.headers;
    socket.end(answer('408 Request Timeout', refusal('REQUEST_TIMEOUT', inFlight
      ? `the request was not received within ${ms} ms`
      : `the request headers were not received within ${ms} ms`, ms)), () => socket.destroy());
    return;
  }
  const known = PARSE_REFUSALS[err.code ?? ''];
  // llhttp's reason ("Invalid method encountered") says what was wrong; never the bytes themselves.
  const why = (err as { reason?: unknown }).reason;
  const body = known
    ? refusal(known.code, known.message, 0)
    : refusal('REQUEST_MALFORMED', `the request is not valid HTTP/1.1${typeof why === 'string' && why !== '' ? `: ${why.slice(0, 120)}` : ''}`, 0);
  socket.end(answer(known?.status ?? '400 Bad Request', body), () => socket.destroy());
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
  const refusal = opts.refusal ?? defaultRefusal;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => onClientError(err, socket, refusal, { headers: headersTimeout, request: requestTimeout }));
  const limit = opts.bodyLimit;
  if (limit !== undefined) {
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      // Over the limit: no 100 Continue, so the client never sends the body; the app answers
      // the 413 from the header alone (with its audit entry and request id), closing the connection.
      const declared = Number(req.headers['content-length']);
      if (!(Number.isFinite(declared) && declared > limit)) res.writeContinue();
      server.emit('request', req, res);
    });
  }
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
