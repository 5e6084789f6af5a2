/**
 * The fast lane: a plain pipeline run (POST /pipelines/NAME with a JSON body
 * of inputs) answered on the raw Node listener, before the Hono app. Hono's
 * request, context and response objects, the router and the middleware chain
 * cost the main thread about as much as a memoised pipeline takes to run, and
 * this is the route every client calls.
 *
 * The lane takes a request only when its method, path and headers say it is
 * the plain case; everything else (a query string, debug or trace headers,
 * another content type or a charset other than UTF-8, a chunked or oversized body, an unknown pipeline, a
 * draining server) goes to the app, which answers it as before. What the lane
 * does is what the app's route does, with the same functions: parseJsonStrict
 * for the body, checkInputs, engine.run, errorBody and retryHeaders for errors,
 * so both give the same status, headers and body (test/fast-lane.test.ts
 * compares them).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine } from '../engine.js';
import { AirmailError, asAirmailError } from '../errors.js';
import type { PipelineResponse } from '../engine.js';
import { DEADLINE_HEADER, deadlineOption, errorBody, retryHeaders, tookMs } from './app.js';
import { inputsNotAnObject, isPlainObject, parseJsonStrict, utf8Body, utf8Charset } from './body.js';
import { UNKNOWN_LABEL } from '../observe/index.js';
import { clientGone } from './client-gone.js';
import { REQUEST_ID_HEADER } from '../observe/request-id.js';

export interface FastLaneOptions {
  /** Largest body taken, in bytes (the app's limit: bigger ones go to the app, which refuses them). */
  readonly bodyLimit: number;
  readonly isDraining: () => boolean;
}

/** Request headers that ask for something only the app does (debug steps, traces, debug id counts). */
const APP_ONLY_HEADERS = ['x-airmail-debug', 'x-airmail-debug-ids', 'x-airmail-now', 'traceparent', 'tracestate', 'transfer-encoding'] as const;
const PREFIX = '/pipelines/';
/** The app's route for what the lane takes. */
const ROUTE = '/pipelines/:name';

/** The pipeline a request may take the lane for, or undefined when the app should answer it. */
function laneFor(engine: Engine, req: IncomingMessage, limit: number): string | undefined {
  if (req.method !== 'POST') return undefined;
  const url = req.url ?? '';
  if (!url.startsWith(PREFIX)) return undefined;
  const name = url.slice(PREFIX.length);
  // Plain names only: an escape, a further segment or a query string goes to the app.
  if (name.length === 0 || /[/?%#]/.test(name) || !engine.snapshot.pipelines.has(name)) return undefined;
  const h = req.headers;
  for (const k of APP_ONLY_HEADERS) if (h[k] !== undefined) return undefined;
  const type = h['content-type'];
  if (type === undefined || type.split(';')[0]!.trim().toLowerCase() !== 'application/json' || !utf8Charset(type)) return undefined;
  const length = Number(h['content-length']);
  if (!Number.isInteger(length) || length < 0 || length > limit) return undefined;
  return name;
}

/** Requests the lane has taken in this process (tests check that it is used). */
export const laneCounts = { taken: 0 };

/** A listener gate (see reliability/listen.ts): true when the lane answered the request. */
export function fastLane(engine: Engine, opts: FastLaneOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (opts.isDraining()) return false;
    const name = laneFor(engine, req, opts.bodyLimit);
    if (name === undefined) return false;
    laneCounts.taken++;
    const t0 = performance.now();
    const chunks: Buffer[] = [];
    // A client that goes away mid-body: the request ends there, with nothing to answer.
    req.on('error', () => undefined);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void answer(engine, opts, name, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), req, res, t0));
    return true;
  };
}

async function answer(engine: Engine, opts: FastLaneOptions, name: string, bytes: Buffer, req: IncomingMessage, res: ServerResponse, t0: number): Promise<void> {
  let p: ReturnType<Engine['pipeline']>;
  try {
    // The snapshot may have swapped while the body arrived: look the pipeline up again, as the app does.
    p = engine.pipeline(name);
  } catch (err) {
    send(res, opts, rejected(engine, UNKNOWN_LABEL, asAirmailError(err), req), t0);
    return;
  }
  let value: unknown;
  try {
    // As the app's route: bytes that are not UTF-8 are refused; an empty body is no inputs; a body that is not an object of inputs is refused.
    const text = utf8Body(bytes);
    value = text.trim() === '' ? {} : parseJsonStrict(text);
    if (!isPlainObject(value)) throw inputsNotAnObject();
  } catch (err) {
    send(res, opts, rejected(engine, p.name, asAirmailError(err), req), t0, { pipeline: p.name, version: p.version });
    return;
  }
  try {
    const id = req.headers[REQUEST_ID_HEADER];
    // httpRequest: the request span's http.* / url.path attributes (the lane takes only POST /pipelines/NAME, no query).
    const http = { method: 'POST', routePath: ROUTE, path: PREFIX + name };
    const out = await engine.run(p, engine.checkInputs(p, value, 'json'), Object.assign(deadlineOption(req.headers[DEADLINE_HEADER]), { httpRequest: http, signal: clientGone(res) }, typeof id === 'string' ? { requestId: id } : undefined));
    write(res, opts, 200, {}, out);
  } catch (err) {
    send(res, opts, rejected(engine, p.name, asAirmailError(err), req), t0, { pipeline: p.name, version: p.version });
  }
}

/** Counts and logs an error answer (observe/index.ts `rejected`), as the app does for its own. */
function rejected(engine: Engine, label: string, e: AirmailError, req: IncomingMessage): AirmailError {
  const id = req.headers[REQUEST_ID_HEADER];
  // The lane takes no request with a traceparent or debug header (APP_ONLY_HEADERS).
  engine.observe.rejected(label, e, { requestId: typeof id === 'string' ? id : undefined, httpRequest: { method: 'POST', routePath: ROUTE, path: req.url ?? '' } });
  return e;
}

function send(res: ServerResponse, opts: FastLaneOptions, e: AirmailError, t0: number, extra: Pick<PipelineResponse, 'pipeline' | 'version'> | Record<string, never> = {}): void {
  write(res, opts, e.status === 200 ? 500 : e.status, retryHeaders(e), errorBody(e, Object.assign({ took_ms: tookMs(t0) }, extra)));
}

function write(res: ServerResponse, opts: FastLaneOptions, status: number, headers: Record<string, string>, body: unknown): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
    ...(opts.isDraining() ? { connection: 'close' } : {}),
  });
  res.end(text);
}
