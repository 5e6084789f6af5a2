/**
 * Read a Redis key as a table: SMEMBERS, HGETALL, LRANGE, ZRANGE WITHSCORES,
 * GETRANGE (JSON or an Arrow IPC blob), each bounded (`max_items`, `max_bytes`,
 * `limit`: ./redis-read.ts) so a huge key fails before it is read. One client per URL, with the safe options
 * of the cache store (no offline queue, no replays): a command either answers
 * within its timeout or counts as a failed attempt, and after the bounded
 * retries the source fails with SOURCE_FAILED.
 */
import { Redis } from 'ioredis';
import type { RedisRequestSpec } from '../api.js';
import { raceAbort } from '../cache/abort.js';
import { safeRedisOptions } from '../cache/redis-store.js';
import type { Table } from '../dataset.js';
import { AirmailError } from '../errors.js';
import { tableFromRedis } from './decode.js';
import { boundedRead, REDIS_READ_DEFAULTS, TooBigError } from './redis-read.js';
import { AttemptError, withRetries } from './retry.js';

export const REDIS_SOURCE_DEFAULTS = { timeoutMs: 100, retries: 2, backoffMs: 25 } as const;

export class RedisFetcher {
  readonly #clients = new Map<string, Redis>();
  /** The last connection error of each client, so a Redis that is down reads as down, not as slow. */
  readonly #lastError = new Map<Redis, string>();
  readonly #defaultUrl: string | undefined;
  #closed = false;

  constructor(opts: { readonly defaultUrl?: string } = {}) {
    this.#defaultUrl = opts.defaultUrl;
  }

  async fetch(spec: RedisRequestSpec, name: string, signal?: AbortSignal): Promise<Table> {
    const url = spec.url ?? this.#defaultUrl;
    if (!url) throw new AirmailError('SOURCE_FAILED', `Redis key '${spec.key}': no Redis URL (set REDIS_URL or the source's url)`);
    if (this.#closed) throw new AirmailError('SOURCE_FAILED', 'the Redis fetcher is closed');
    const client = this.#client(url);
    const timeoutMs = spec.timeoutMs ?? REDIS_SOURCE_DEFAULTS.timeoutMs;
    const what = `Redis ${spec.type} '${spec.key}'`;
    try {
      const { value } = await withRetries(
        async () => {
          const reply = await this.#command(client, spec, timeoutMs, signal);
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
      if (signal?.aborted) throw new AirmailError('DEADLINE_EXCEEDED', `the request's deadline passed while waiting for ${what}`, { details: { waitingFor: what } });
      throw new AirmailError('SOURCE_FAILED', `${what} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async #command(client: Redis, spec: RedisRequestSpec, timeoutMs: number, signal: AbortSignal | undefined): Promise<unknown> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const bound = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      if (client.status !== 'ready') await waitReady(client, bound);
      return await boundedRead(client, spec, REDIS_READ_DEFAULTS, (p) => raceAbort(p, bound));
    } catch (err) {
      if (err instanceof TooBigError) throw new AttemptError(err.message, false);
      if (timeout.aborted) {
        const down = client.status !== 'ready' ? this.#lastError.get(client) : undefined;
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

  #client(url: string): Redis {
    let c = this.#clients.get(url);
    if (!c) {
      c = new Redis(url, safeRedisOptions());
      const client = c;
      c.on('error', (e: Error) => void this.#lastError.set(client, e.message));
      c.on('ready', () => void this.#lastError.delete(client));
      c.connect().catch(() => undefined);
      this.#clients.set(url, c);
    }
    return c;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#clients.values()) c.disconnect(false);
    this.#clients.clear();
    this.#lastError.clear();
  }
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
