/**
 * GET an upstream HTTP service with undici: one keep-alive Pool per origin
 * (connections reused across requests and workers, since this runs on the
 * main thread), a per-attempt timeout on headers and body, bounded retries
 * with backoff on connection errors, timeouts, 5xx and 429 (honouring a
 * Retry-After up to 1 s; a longer one fails at once). A 4xx, a redirect or an
 * undecodable body fails at once. The body is read up to `maxBytes` (checked
 * against Content-Length, while streaming, and after gzip/deflate/br decoding),
 * since decoding runs on the main thread: an unbounded answer would stall
 * every request and grow the heap by gigabytes.
 *
 * An origin that stops answering (connections refused or timing out, or 502,
 * 503, 504 from a gateway) would make every fetch wait its timeout and
 * retries, on every request, before a stale copy or `error: true` answers.
 * So each origin has a circuit breaker (../cache/breaker.ts; as Envoy's
 * outlier detection ejects a host after 5 gateway failures in a row): after
 * ORIGIN_FAILURES_TO_OPEN such attempts in a row, fetches to it fail at once
 * until a probe, 250 ms to 2 s later, gets an answer. Any answer (a 2xx, a
 * 4xx, a 500 about one request) closes it.
 */
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate, type ZlibOptions } from 'node:zlib';
import { Pool } from 'undici';
import type { HttpRequestSpec } from '../api.js';
import type { Table } from '../dataset.js';
import { Breaker, BreakerTally, type BreakerCount } from '../cache/breaker.js';
import { AirmailError } from '../errors.js';
import { tableFromBytes } from './decode.js';
import { AttemptError, parseRetryAfter, withRetries } from './retry.js';
import { redactText } from '../redact.js';
import type { FetchTrace, UpstreamCall } from '../observe/types.js';
import { traceSampled } from '../observe/trace-context.js';

export interface HttpFetcherOptions {
  /** Connections per origin; default 32. */
  readonly connections?: number;
  readonly keepAliveTimeoutMs?: number;
}

export interface HttpFetchStats {
  /** Attempts sent (each retry counts). */
  readonly attempts: number;
  readonly failures: number;
  /** Origins with a connection pool now (at most MAX_ORIGIN_POOLS). */
  readonly origins: number;
  /** Attempts not sent because their origin's breaker was open. */
  readonly skipped: number;
  readonly breakerOpened: number;
  /** Openings and skips by origin (scheme://host:port), for the origins whose breaker opened. */
  readonly breakers: readonly BreakerCount[];
}

const ACCEPT = 'application/json, application/vnd.apache.arrow.stream';
const ACCEPT_ENCODING = 'gzip, deflate, br';

/** A traced attempt's headers: the source's, then the W3C trace context (ours: the fetch's span is the parent). */
function traced(headers: HttpRequestSpec['headers'], trace: FetchTrace): Record<string, string> {
  const out: Record<string, string> = { accept: ACCEPT, 'accept-encoding': ACCEPT_ENCODING };
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() !== 'traceparent' && k.toLowerCase() !== 'tracestate') out[k] = v;
  out['traceparent'] = trace.traceparent;
  if (trace.tracestate) out['tracestate'] = trace.tracestate;
  return out;
}

/**
 * The call as OTel's stable HTTP client conventions name it, noted in `trace`. url.full is redacted
 * as every URL the engine shows (no user info; the query string as `?***`: it may hold a secret).
 */
function clientCall(url: URL, trace: FetchTrace): UpstreamCall {
  const call: UpstreamCall = {
    attributes: {
      'http.request.method': 'GET',
      'url.full': redactText(url.href),
      'server.address': url.hostname.replace(/^\[|\]$/g, ''),
      'server.port': url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
    },
  };
  trace.call = call;
  return call;
}

/** error.type of a failed call (low cardinality): the last status code, the socket error's code, `timeout`, or what stopped it. */
function errorType(err: unknown): string {
  const msg = err instanceof Error ? err.message : '';
  if (err instanceof AttemptError && err.status !== undefined) return String(err.status);
  if (/^no answer within/.test(msg)) return 'timeout';
  if (/is not answering/.test(msg)) return 'circuit_open';
  const code = ((err as { cause?: { code?: unknown } }).cause as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code)) return code;
  if (/max_bytes/.test(msg)) return 'body_too_large';
  return '_OTHER';
}

/** Attempts in a row that could not reach an origin (or got 502, 503, 504) before its breaker opens. */
export const ORIGIN_FAILURES_TO_OPEN = 5;

/** An origin's pool and breaker, with why its last failed attempt failed. */
interface Origin {
  readonly pool: Pool;
  readonly breaker: Breaker;
  /** Its `origin` label in the breaker metrics. */
  readonly label: string;
  lastFailure?: string;
}

/** scheme://host:port of `url`, the port always written (URL.origin leaves a default one out); never user info, path or query. */
export function originLabel(url: URL): string {
  return `${url.protocol}//${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
}

/** Whether an attempt's failure says the origin is unreachable or unwell, not that one request was wrong. */
function originFailure(err: unknown): boolean {
  if (!(err instanceof AttemptError) || !err.retryable) return false;
  return err.status === undefined || err.status === 502 || err.status === 503 || err.status === 504;
}

/**
 * Connection pools kept, least recently used closed first. A url may put a request value in its host
 * (`http://{tenant}.svc/...`): a pool per origin kept for good was a Pool object per value a client
 * ever sent.
 */
export const MAX_ORIGIN_POOLS = 64;

export const HTTP_DEFAULTS = { timeoutMs: 1000, retries: 2, backoffMs: 25, maxBytes: 16 * 1024 * 1024 } as const;

type Inflate = (buf: Uint8Array, opts: ZlibOptions & { maxOutputLength?: number }) => Promise<Buffer>;
const DECODERS: Readonly<Record<string, Inflate>> = {
  gzip: promisify(gunzip) as Inflate,
  'x-gzip': promisify(gunzip) as Inflate,
  deflate: promisify(inflate) as Inflate,
  br: promisify(brotliDecompress) as Inflate,
};

type Body = AsyncIterable<Uint8Array> & { destroy(): unknown; on(event: 'error', fn: () => void): unknown };

/** Drop a body not read to its end; undici reports the abort as an 'error' event, which must not go unheard. */
function discard(body: Body): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** The body, at most `max` bytes as sent and as decoded; an AttemptError (not retried) past that. */
async function readBody(res: { headers: Record<string, string | string[] | undefined>; body: Body }, max: number): Promise<Uint8Array> {
  const tooBig = (): AttemptError => new AttemptError(`the body is larger than max_bytes (${max} bytes)`, false);
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    discard(res.body);
    throw tooBig();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > max) {
      discard(res.body);
      throw tooBig();
    }
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks, size);
  const encodings = String(res.headers['content-encoding'] ?? '').split(',').map((e) => e.trim().toLowerCase()).filter((e) => e !== '' && e !== 'identity');
  let out: Uint8Array = raw;
  // Applied in the order listed, so undone in reverse.
  for (const enc of encodings.reverse()) {
    const decode = DECODERS[enc];
    if (!decode) throw new AttemptError(`content-encoding '${enc.slice(0, 40)}' is not supported (gzip, deflate and br are)`, false);
    try {
      out = await decode(out, { maxOutputLength: max });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw tooBig();
      throw new AttemptError(`the ${enc} body does not decode: ${(err as Error).message}`, false);
    }
  }
  return out;
}

export class HttpFetcher {
  readonly #pools = new Map<string, Origin>();
  readonly #opts: HttpFetcherOptions;
  #attempts = 0;
  #failures = 0;
  #skipped = 0;
  /** Breaker openings and skips by origin, kept when an origin's pool is closed. */
  readonly #tally = new BreakerTally(MAX_ORIGIN_POOLS);
  #closed = false;

  constructor(opts: HttpFetcherOptions = {}) {
    this.#opts = opts;
  }

  stats(): HttpFetchStats {
    const breakers = this.#tally.rows();
    let opened = 0;
    for (const b of breakers) opened += b.opened;
    return { attempts: this.#attempts, failures: this.#failures, origins: this.#pools.size, skipped: this.#skipped, breakerOpened: opened, breakers };
  }

  /**
   * `trace` (a traced request's fetch): every attempt sends its W3C traceparent (and tracestate), and,
   * when it is sampled, `trace.call` gets the call's OTel HTTP client attributes (URL redacted as in
   * reasons and logs).
   */
  async fetch(spec: HttpRequestSpec, name: string, signal?: AbortSignal, trace?: FetchTrace): Promise<Table> {
    if (this.#closed) throw new AirmailError('SOURCE_FAILED', 'the HTTP fetcher is closed');
    let url: URL;
    try {
      url = new URL(spec.url);
    } catch {
      throw new AirmailError('SOURCE_FAILED', `not a URL: ${redactText(spec.url)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AirmailError('SOURCE_FAILED', `only http and https URLs are supported: ${redactText(spec.url)}`);
    const origin = this.#origin(url);
    let attempts = 0;
    // Reasons, logs and spans carry this: no user info, no query string (it may hold an expanded {env:} secret).
    const what = `GET ${redactText(url.href)}`;
    // An unsampled request's attempts send its context, but its call has no span to describe.
    const call = trace && traceSampled(trace.traceparent) ? clientCall(url, trace) : undefined;
    try {
      const { value } = await withRetries(
        async () => {
          const admission = origin.breaker.admit();
          if (admission === 'skip') {
            this.#skipped++;
            this.#tally.skipped(origin.label);
            if (call) delete call.attributes['http.response.status_code'];
            throw new AttemptError(`${redactText(url.origin)} is not answering (${origin.breaker.failures} attempts in a row failed, the last: ${origin.lastFailure ?? 'no answer'}); it is not asked again for ${Math.ceil(origin.breaker.retryInMs)} ms`, false);
          }
          const probe = admission === 'probe';
          if (call && attempts > 0) call.attributes['http.request.resend_count'] = attempts;
          attempts++;
          try {
            const table = await this.#attempt(origin.pool, url, spec, name, signal, trace);
            origin.breaker.succeeded(probe);
            return table;
          } catch (err) {
            if (signal?.aborted) origin.breaker.released(probe);
            else if (originFailure(err)) {
              origin.lastFailure = (err as Error).message;
              const opened = origin.breaker.opened;
              origin.breaker.failed(probe);
              if (origin.breaker.opened !== opened) this.#tally.opened(origin.label);
            } else origin.breaker.succeeded(probe);
            throw err;
          }
        },
        { retries: spec.retries ?? HTTP_DEFAULTS.retries, backoffMs: spec.backoffMs ?? HTTP_DEFAULTS.backoffMs, ...(signal ? { signal } : {}) },
      );
      return value;
    } catch (err) {
      this.#failures++;
      if (call) call.attributes['error.type'] = signal?.aborted ? 'DEADLINE_EXCEEDED' : errorType(err);
      if (signal?.aborted) throw new AirmailError('DEADLINE_EXCEEDED', `the request's deadline passed while waiting for ${what}`, { details: { waitingFor: what } });
      const tried = err instanceof AttemptError && !err.retryable ? '' : ` after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
      throw new AirmailError('SOURCE_FAILED', `${what} failed${tried}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** One GET, its body read and decoded; an AttemptError (retryable or not) when it fails. */
  async #attempt(pool: Pool, url: URL, spec: HttpRequestSpec, name: string, signal: AbortSignal | undefined, trace: FetchTrace | undefined): Promise<Table> {
    const timeoutMs = spec.timeoutMs ?? HTTP_DEFAULTS.timeoutMs;
    const attrs = trace?.call?.attributes;
    if (attrs) delete attrs['http.response.status_code'];
    this.#attempts++;
    const attemptSignal = signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
    let res;
    try {
      res = await pool.request({
        method: 'GET',
        path: url.pathname + url.search,
        headers: trace ? traced(spec.headers, trace) : { accept: ACCEPT, 'accept-encoding': ACCEPT_ENCODING, ...spec.headers },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: attemptSignal,
      });
    } catch (err) {
      throw this.#attemptError(err, attemptSignal, timeoutMs);
    }
    if (attrs) attrs['http.response.status_code'] = res.statusCode;
    if (res.statusCode >= 300) {
      discard(res.body);
      if (res.statusCode < 400) {
        const to = res.headers['location'];
        let where = '';
        try {
          if (to) where = ` (a redirect to ${redactText(new URL(String(to), url).href).slice(0, 200)})`;
        } catch {
          where = ' (a redirect)';
        }
        throw new AttemptError(`status ${res.statusCode}${where}: redirects are not followed, give the source its final URL`, false, { status: res.statusCode });
      }
      const retryable = res.statusCode >= 500 || res.statusCode === 429 || res.statusCode === 408;
      const retryAfterMs = res.statusCode === 429 || res.statusCode === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined;
      const asked = retryAfterMs !== undefined ? ` (Retry-After ${retryAfterMs} ms)` : '';
      throw new AttemptError(`status ${res.statusCode}${asked}`, retryable, retryAfterMs !== undefined ? { retryAfterMs, status: res.statusCode } : { status: res.statusCode });
    }
    let body: Uint8Array;
    try {
      body = await readBody(res, spec.maxBytes ?? HTTP_DEFAULTS.maxBytes);
    } catch (err) {
      if (err instanceof AttemptError) throw err;
      throw this.#attemptError(err, attemptSignal, timeoutMs);
    }
    const ctype = String(res.headers['content-type'] ?? '');
    const format = spec.format ?? (/arrow/i.test(ctype) ? 'arrow' : 'json');
    try {
      return tableFromBytes(name, body, format, spec.path);
    } catch (err) {
      throw new AttemptError((err as Error).message, false);
    }
  }

  #attemptError(err: unknown, signal: AbortSignal, timeoutMs: number): AttemptError {
    if (signal.aborted) return new AttemptError(`no answer within ${timeoutMs} ms`, true, { cause: err });
    const e = err as { code?: string; message?: string };
    if (e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') return new AttemptError(`no answer within ${timeoutMs} ms`, true, { cause: err });
    return new AttemptError(`${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`, true, { cause: err });
  }

  #origin(url: URL): Origin {
    const key = url.origin;
    let o = this.#pools.get(key);
    if (o) {
      // Most recently used last, so the first is the one to close.
      this.#pools.delete(key);
      this.#pools.set(key, o);
      return o;
    }
    const pool = new Pool(key, {
      connections: this.#opts.connections ?? 32,
      keepAliveTimeout: this.#opts.keepAliveTimeoutMs ?? 4000,
      connect: { timeout: 1000 },
    });
    o = { pool, breaker: new Breaker({ failureThreshold: ORIGIN_FAILURES_TO_OPEN }), label: originLabel(url) };
    this.#pools.set(key, o);
    if (this.#pools.size > MAX_ORIGIN_POOLS) {
      const [oldest, old] = this.#pools.entries().next().value as [string, Origin];
      this.#pools.delete(oldest);
      // close() lets its requests in flight finish, then ends its connections.
      old.pool.close().catch(() => undefined);
    }
    return o;
  }

  /** Close every pool. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#pools.values()].map((o) => o.pool.destroy().catch(() => undefined)));
    this.#pools.clear();
  }
}
