/**
 * GET an upstream HTTP service with undici: one keep-alive Pool per origin
 * (connections reused across requests and workers, since this runs on the
 * main thread), a per-attempt timeout on headers and body, bounded retries
 * with backoff on connection errors, timeouts, 5xx and 429. A 4xx or an
 * undecodable body fails at once.
 */
import { Pool } from 'undici';
import type { HttpRequestSpec } from '../api.js';
import type { Table } from '../dataset.js';
import { AirmailError } from '../errors.js';
import { tableFromBytes } from './decode.js';
import { AttemptError, withRetries } from './retry.js';
import { redactText } from '../redact.js';

export interface HttpFetcherOptions {
  /** Connections per origin; default 32. */
  readonly connections?: number;
  readonly keepAliveTimeoutMs?: number;
}

export interface HttpFetchStats {
  /** Attempts sent (each retry counts). */
  readonly attempts: number;
  readonly failures: number;
}

export const HTTP_DEFAULTS = { timeoutMs: 1000, retries: 2, backoffMs: 25 } as const;

export class HttpFetcher {
  readonly #pools = new Map<string, Pool>();
  readonly #opts: HttpFetcherOptions;
  #attempts = 0;
  #failures = 0;
  #closed = false;

  constructor(opts: HttpFetcherOptions = {}) {
    this.#opts = opts;
  }

  stats(): HttpFetchStats {
    return { attempts: this.#attempts, failures: this.#failures };
  }

  async fetch(spec: HttpRequestSpec, name: string, signal?: AbortSignal): Promise<Table> {
    if (this.#closed) throw new AirmailError('SOURCE_FAILED', 'the HTTP fetcher is closed');
    let url: URL;
    try {
      url = new URL(spec.url);
    } catch {
      throw new AirmailError('SOURCE_FAILED', `not a URL: ${redactText(spec.url)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AirmailError('SOURCE_FAILED', `only http and https URLs are supported: ${redactText(spec.url)}`);
    const pool = this.#pool(url.origin);
    const timeoutMs = spec.timeoutMs ?? HTTP_DEFAULTS.timeoutMs;
    // Reasons, logs and spans carry this: no user info, no query string (it may hold an expanded {env:} secret).
    const what = `GET ${redactText(url.href)}`;
    try {
      const { value } = await withRetries(
        async () => {
          this.#attempts++;
          const attemptSignal = signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
          let res;
          try {
            res = await pool.request({
              method: 'GET',
              path: url.pathname + url.search,
              headers: { accept: 'application/json, application/vnd.apache.arrow.stream', ...spec.headers },
              headersTimeout: timeoutMs,
              bodyTimeout: timeoutMs,
              signal: attemptSignal,
            });
          } catch (err) {
            throw this.#attemptError(err, attemptSignal, timeoutMs);
          }
          let body: Uint8Array;
          try {
            body = new Uint8Array(await res.body.arrayBuffer());
          } catch (err) {
            throw this.#attemptError(err, attemptSignal, timeoutMs);
          }
          if (res.statusCode >= 300) {
            const retryable = res.statusCode >= 500 || res.statusCode === 429 || res.statusCode === 408;
            throw new AttemptError(`status ${res.statusCode}`, retryable);
          }
          const ctype = String(res.headers['content-type'] ?? '');
          const format = spec.format ?? (/arrow/i.test(ctype) ? 'arrow' : 'json');
          try {
            return tableFromBytes(name, body, format, spec.path);
          } catch (err) {
            throw new AttemptError((err as Error).message, false);
          }
        },
        { retries: spec.retries ?? HTTP_DEFAULTS.retries, backoffMs: spec.backoffMs ?? HTTP_DEFAULTS.backoffMs, ...(signal ? { signal } : {}) },
      );
      return value;
    } catch (err) {
      this.#failures++;
      if (signal?.aborted) throw new AirmailError('DEADLINE_EXCEEDED', `the request's deadline passed while waiting for ${what}`, { details: { waitingFor: what } });
      const attempts = 1 + Math.max(0, spec.retries ?? HTTP_DEFAULTS.retries);
      const tried = err instanceof AttemptError && !err.retryable ? '' : ` after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
      throw new AirmailError('SOURCE_FAILED', `${what} failed${tried}: ${(err as Error).message}`, { cause: err });
    }
  }

  #attemptError(err: unknown, signal: AbortSignal, timeoutMs: number): AttemptError {
    if (signal.aborted) return new AttemptError(`no answer within ${timeoutMs} ms`, true, { cause: err });
    const e = err as { code?: string; message?: string };
    if (e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') return new AttemptError(`no answer within ${timeoutMs} ms`, true, { cause: err });
    return new AttemptError(`${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`, true, { cause: err });
  }

  #pool(origin: string): Pool {
    let p = this.#pools.get(origin);
    if (!p) {
      p = new Pool(origin, {
        connections: this.#opts.connections ?? 32,
        keepAliveTimeout: this.#opts.keepAliveTimeoutMs ?? 4000,
        connect: { timeout: 1000 },
      });
      this.#pools.set(origin, p);
    }
    return p;
  }

  /** Close every pool. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#pools.values()].map((p) => p.destroy().catch(() => undefined)));
    this.#pools.clear();
  }
}
