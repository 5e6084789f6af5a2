/**
 * Read a Redis key as a table: SMEMBERS, HGETALL, LRANGE, ZRANGE WITHSCORES,
 * GETRANGE (JSON or an Arrow IPC blob), each bounded (`max_items`, `max_bytes`,
 * `limit`: ./redis-read.ts) so a huge key fails before it is read. One client per URL, with the safe options
 * of the cache store (no offline queue, no replays): a command either answers
 * within its timeout or counts as a failed attempt, and after the bounded
 * retries the source fails with SOURCE_FAILED.
 *
 * A paused Redis (socket open, no replies) would make every fetch wait its
 * timeouts and retries, holding a worker each time, which is what the worker
 * bulkheads (engine/bulkhead.ts) count against the pipeline. So each client
 * has a circuit breaker (../cache/breaker.ts) that opens on the first command
 * that times out or cannot reach Redis: a connected Redis that has not
 * answered within the timeout (100 ms, ~100 times its usual latency) is
 * stalled, every command behind it on the connection waits too, and asking
 * again only waits again. While it is open, fetches fail at once (a stale copy
 * answers where the source allows one, so a paused Redis costs a request at
 * most one command timeout) until a probe, 250 ms to 2 s later, gets an answer.
 */
import { Redis } from 'ioredis';
import type { RedisRequestSpec } from '../api.js';
import { raceAbort } from '../cache/abort.js';
import { Breaker, BreakerTally, type BreakerCount } from '../cache/breaker.js';
import { safeRedisOptions } from '../cache/redis-store.js';
import type { Table } from '../dataset.js';
import { AirmailError } from '../errors.js';
import { tableFromRedis } from './decode.js';
import { boundedRead, REDIS_READ_DEFAULTS, TooBigError } from './redis-read.js';
import { AttemptError, withRetries } from './retry.js';
import type { FetchTrace, UpstreamCall } from '../observe/types.js';

export const REDIS_SOURCE_DEFAULTS = { timeoutMs: 100, retries: 2, backoffMs: 25 } as const;

/** A client and what its calls have shown. */
interface Conn {
  readonly client: Redis;
  readonly breaker: Breaker;
  /** Its `origin` label in the breaker metrics. */
  readonly label: string;
  /** The last connection error, so a Redis that is down reads as down, not as slow. */
  lastError?: string;
  /** Why the last failed command failed (said while the breaker is open). */
  lastFailure?: string;
}

export interface RedisFetchStats {
  /** Fetches refused at once because the client's breaker was open. */
  readonly skipped: number;
  readonly breakerOpened: number;
  /** Openings and skips by server (scheme://host:port), for the servers whose breaker opened. */
  readonly breakers: readonly BreakerCount[];
}

/** The most Redis servers counted apart in the breaker metrics (sources' URLs are configured, so few). */
const MAX_SERVER_SERIES = 64;

/** scheme://host:port of a Redis URL: never its password, user or database; `_unknown` when it does not parse. */
export function redisOriginLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}:${u.port || '6379'}`;
  } catch {
    return '_unknown';
  }
}

export class RedisFetcher {
  readonly #conns = new Map<string, Conn>();
  #skipped = 0;
  readonly #tally = new BreakerTally(MAX_SERVER_SERIES);
  readonly #defaultUrl: string | undefined;
  #closed = false;

  constructor(opts: { readonly defaultUrl?: string } = {}) {
    this.#defaultUrl = opts.defaultUrl;
  }

  /**
   * `trace` (a traced request's fetch): `trace.call` gets the call's OTel database client attributes
   * (db.system.name, db.operation.name, server.*), never the key, which may hold a request's values.
   */
  async fetch(spec: RedisRequestSpec, name: string, signal?: AbortSignal, trace?: FetchTrace): Promise<Table> {
    const url = spec.url ?? this.#defaultUrl;
    if (!url) throw new AirmailError('SOURCE_FAILED', `Redis key '${spec.key}': no Redis URL (set REDIS_URL or the source's url)`);
    if (this.#closed) throw new AirmailError('SOURCE_FAILED', 'the Redis fetcher is closed');
    const conn = this.#conn(url);
    if (trace) trace.call = redisCall(url, spec);
    const timeoutMs = spec.timeoutMs ?? REDIS_SOURCE_DEFAULTS.timeoutMs;
    const what = `Redis ${spec.type} '${spec.key}'`;
    try {
      const { value } = await withRetries(
        async () => {
          const reply = await this.#guarded(conn, spec, timeoutMs, signal);
          try {
            return tableFromRedis(name, spec.type, reply);
          } catch (err) {
            throw new AttemptError((err as Error).message, false);
          }
        },
        { retries: spec.retries ?? REDIS_SOURCE_DEFAULTS.retries, backoffMs: spec.backoffMs ?? REDIS_SOURCE_DEFAULTS.backoffMs, ...(signal ? { signal } : {}) },
      );
      return value;
    } catch (err) {
      if (trace?.call) trace.call.attributes['error.type'] = signal?.aborted ? 'DEADLINE_EXCEEDED' : redisErrorType(err);
      if (signal?.aborted) throw new AirmailError('DEADLINE_EXCEEDED', `the request's deadline passed while waiting for ${what}`, { details: { waitingFor: what } });
      throw new AirmailError('SOURCE_FAILED', `${what} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  stats(): RedisFetchStats {
    const breakers = this.#tally.rows();
    let opened = 0;
    for (const b of breakers) opened += b.opened;
    return { skipped: this.#skipped, breakerOpened: opened, breakers };
  }

  /** One command through the client's breaker: an answer of any kind closes it; a timeout or a lost connection counts against it. */
  async #guarded(conn: Conn, spec: RedisRequestSpec, timeoutMs: number, signal: AbortSignal | undefined): Promise<unknown> {
    const admission = conn.breaker.admit();
    if (admission === 'skip') {
      this.#skipped++;
      this.#tally.skipped(conn.label);
      const wait = Math.ceil(conn.breaker.retryInMs);
      throw new AttemptError(`Redis is not answering (${conn.lastFailure ?? 'no answer'}); it is not asked again for ${wait} ms`, false);
    }
    const probe = admission === 'probe';
    try {
      const reply = await this.#command(conn, spec, timeoutMs, signal);
      conn.breaker.succeeded(probe);
      return reply;
    } catch (err) {
      if (err instanceof AttemptError && err.retryable && !signal?.aborted) {
        conn.lastFailure = err.message;
        const opened = conn.breaker.opened;
        conn.breaker.failed(probe);
        if (conn.breaker.opened !== opened) this.#tally.opened(conn.label);
      } else if (err instanceof AttemptError && !signal?.aborted) conn.breaker.succeeded(probe); // Redis answered: the key is wrong, not Redis
      else conn.breaker.released(probe);
      throw err;
    }
  }

  async #command(conn: Conn, spec: RedisRequestSpec, timeoutMs: number, signal: AbortSignal | undefined): Promise<unknown> {
    const client = conn.client;
    const timeout = AbortSignal.timeout(timeoutMs);
    const bound = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      if (client.status !== 'ready') await waitReady(client, bound);
      return await boundedRead(client, spec, REDIS_READ_DEFAULTS, (p) => raceAbort(p, bound));
    } catch (err) {
      if (err instanceof TooBigError) throw new AttemptError(err.message, false);
      if (timeout.aborted) {
        const down = client.status !== 'ready' ? conn.lastError : undefined;
        throw new AttemptError(down ? `not connected to Redis (${down})` : `no answer within ${timeoutMs} ms`, true, { cause: err });
      }
      if (/WRONGTYPE/.test((err as Error).message)) {
        // Redis says only that the type is wrong: name the one the key holds, and the type to give.
        const held = await raceAbort(client.type(spec.key), bound).catch(() => undefined);
        const fits = held === 'string' ? 'give type: json or arrow' : ['set', 'hash', 'list', 'zset'].includes(held ?? '') ? `give type: ${held}` : 'which no type: reads';
        throw new AttemptError(held ? `key '${spec.key}' holds a Redis ${held}, not what type: ${spec.type} reads (${fits})` : (err as Error).message, false);
      }
      throw new AttemptError((err as Error).message, true, { cause: err });
    }
  }

  #conn(url: string): Conn {
    let c = this.#conns.get(url);
    if (!c) {
      const conn: Conn = { client: new Redis(url, safeRedisOptions()), breaker: new Breaker({ failureThreshold: 1 }), label: redisOriginLabel(url) };
      conn.client.on('error', (e: Error) => void (conn.lastError = e.message));
      conn.client.on('ready', () => void delete conn.lastError);
      conn.client.connect().catch(() => undefined);
      this.#conns.set(url, conn);
      c = conn;
    }
    return c;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#conns.values()) c.client.disconnect(false);
    this.#conns.clear();
  }
}

/** The Redis command a bounded read of `spec` is (redis-read.ts; a set or hash asks its size first). */
function redisOperation(spec: RedisRequestSpec): string {
  switch (spec.type) {
    case 'list': return 'LRANGE';
    case 'zset': return spec.order === 'desc' ? 'ZREVRANGE' : 'ZRANGE';
    case 'set': return 'SMEMBERS';
    case 'hash': return 'HGETALL';
    default: return 'GETRANGE';
  }
}

function redisCall(url: string, spec: RedisRequestSpec): UpstreamCall {
  const attributes: Record<string, string | number> = { 'db.system.name': 'redis', 'db.operation.name': redisOperation(spec) };
  try {
    const u = new URL(url);
    attributes['server.address'] = u.hostname.replace(/^\[|\]$/g, '');
    attributes['server.port'] = u.port ? Number(u.port) : 6379;
    const db = /^\/(\d+)$/.exec(u.pathname)?.[1];
    if (db !== undefined) attributes['db.namespace'] = db;
  } catch {
    // An unparsable URL fails the fetch with its own reason; the span names no server.
  }
  return { attributes };
}

/** error.type of a failed Redis read (low cardinality). */
function redisErrorType(err: unknown): string {
  const msg = err instanceof Error ? err.message : '';
  if (/^no answer within/.test(msg)) return 'timeout';
  if (/^not connected/.test(msg)) return 'not_connected';
  if (/is not answering/.test(msg)) return 'circuit_open';
  if (/max_items|max_bytes|more than/.test(msg)) return 'too_big';
  if (/WRONGTYPE|holds a Redis/.test(msg)) return 'WRONGTYPE';
  return '_OTHER';
}

/** Resolves when the client is ready; rejects when it ends or `signal` fires (listeners removed either way). */
function waitReady(client: Redis, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (client.status === 'ready') return resolve();
    if (client.status === 'end') return reject(new Error('connection closed'));
    if (signal.aborted) return reject(new Error('not connected'));
    const done = (err?: Error): void => {
      client.off('ready', onReady);
      client.off('end', onEnd);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onReady = (): void => done();
    const onEnd = (): void => done(new Error('connection closed'));
    const onAbort = (): void => done(new Error('not connected'));
    client.once('ready', onReady);
    client.once('end', onEnd);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
