/**
 * Redis as a cache store that can never stall a request.
 *
 * - Every command races a command timeout (default 25 ms) and the request's
 *   AbortSignal. A timeout or error is reported as a result, never thrown: the
 *   cache treats it as a miss.
 * - The client never queues: `enableOfflineQueue: false` fails commands at once
 *   while disconnected, `maxRetriesPerRequest: 0` drops in-flight commands on
 *   disconnect instead of replaying them. Reconnects back off up to 1 s.
 * - A paused Redis (SIGSTOP, TCP open, no replies) makes every command wait the
 *   full timeout, so a circuit breaker (./breaker.ts) opens after
 *   `failureThreshold` consecutive failures: commands are skipped (cost ~0)
 *   for `openMs`, then one probe is let through (default at most 2 s, so
 *   recovery after Redis returns takes at most ~2 s plus one reconnect).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { Breaker, type BreakerOptions, type BreakerState } from './breaker.js';

export type { BreakerOptions, BreakerState } from './breaker.js';

export type StoreStatus = 'ok' | 'timeout' | 'error' | 'skipped' | 'aborted';
export type StoreResult<T> = { readonly status: 'ok'; readonly value: T } | { readonly status: Exclude<StoreStatus, 'ok'> };
export interface RedisStoreOptions {
  /** redis://host:port/db; ignored when `client` is given. */
  readonly url?: string;
  /** Use this client (the store then does not own it unless `ownsClient`). */
  readonly client?: Redis;
  readonly ownsClient?: boolean;
  /** Per-command bound in ms; default 25. */
  readonly commandTimeoutMs?: number;
  readonly breaker?: BreakerOptions;
  /** Prepended to every key; default ''. */
  readonly keyPrefix?: string;
  /** Extra ioredis options (merged over the safe defaults). */
  readonly redisOptions?: RedisOptions;
  readonly now?: () => number;
}

export interface RedisStoreStats {
  readonly commands: number;
  readonly ok: number;
  readonly timeouts: number;
  readonly errors: number;
  readonly skipped: number;
  readonly aborted: number;
  readonly breakerOpened: number;
  readonly breaker: BreakerState;
  readonly connection: string;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 25;

/** ioredis options under which no command can wait on a reconnect. */
export function safeRedisOptions(extra: RedisOptions = {}): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 1000,
    // Exponential backoff 50 ms → 1 s with jitter: a Redis that comes back is seen within ~1 s.
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), 1000) + Math.floor(Math.random() * 50),
    ...extra,
  };
}

export class RedisStore {
  readonly client: Redis;
  readonly commandTimeoutMs: number;
  readonly #owns: boolean;
  readonly #prefix: string;
  readonly #breaker: Breaker;
  #closed = false;
  #c = { commands: 0, ok: 0, timeouts: 0, errors: 0, skipped: 0, aborted: 0 };

  constructor(opts: RedisStoreOptions) {
    if (opts.client === undefined && opts.url === undefined) throw new TypeError('RedisStore needs a url or a client');
    this.commandTimeoutMs = opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    if (!(this.commandTimeoutMs > 0)) throw new RangeError(`commandTimeoutMs must be > 0, got ${this.commandTimeoutMs}`);
    this.#prefix = opts.keyPrefix ?? '';
    this.#breaker = new Breaker(opts.breaker, opts.now);
    if (opts.client !== undefined) {
      this.client = opts.client;
      this.#owns = opts.ownsClient ?? false;
    } else {
      this.client = new Redis(opts.url as string, safeRedisOptions(opts.redisOptions));
      this.#owns = true;
      // Connect in the background: start-up never waits on Redis, and until it
      // is ready commands fail fast (offline queue disabled) and count as misses.
      this.client.connect().catch(() => undefined);
    }
    // Without a listener ioredis re-emits connection errors as uncaught.
    this.client.on('error', () => undefined);
  }

  get breakerState(): BreakerState {
    return this.#breaker.state;
  }

  getBuffer(key: string, signal?: AbortSignal): Promise<StoreResult<Buffer | null>> {
    return this.#run(() => this.client.getBuffer(this.#prefix + key), signal);
  }

  /** SET key value PX ttlMs. */
  set(key: string, value: Uint8Array, ttlMs: number, signal?: AbortSignal): Promise<StoreResult<void>> {
    const px = Math.max(1, Math.ceil(ttlMs));
    const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return this.#run(async () => {
      await this.client.set(this.#prefix + key, buf, 'PX', px);
    }, signal);
  }

  /** SET key value NX PX ttlMs; ok(true) when this caller took the key. */
  setNx(key: string, value: string, ttlMs: number, signal?: AbortSignal): Promise<StoreResult<boolean>> {
    const px = Math.max(1, Math.ceil(ttlMs));
    return this.#run(async () => (await this.client.set(this.#prefix + key, value, 'PX', px, 'NX')) === 'OK', signal);
  }

  delete(key: string, signal?: AbortSignal): Promise<StoreResult<void>> {
    return this.#run(async () => {
      await this.client.del(this.#prefix + key);
    }, signal);
  }

  stats(): RedisStoreStats {
    return { ...this.#c, breakerOpened: this.#breaker.opened, breaker: this.breakerState, connection: this.client.status };
  }

  /** Quit the client when this store owns it. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#owns) return;
    // QUIT waits for a reply: bound it, then drop the socket regardless.
    const quit = this.client.quit().catch(() => undefined);
    await Promise.race([quit, new Promise((r) => setTimeout(r, 100).unref())]);
    this.client.disconnect(false);
  }

  #run<T>(command: () => Promise<T>, signal: AbortSignal | undefined): Promise<StoreResult<T>> {
    this.#c.commands++;
    if (signal?.aborted) return this.#count({ status: 'aborted' });
    if (this.#closed) return this.#count({ status: 'skipped' });
    const admission = this.#breaker.admit();
    if (admission === 'skip') return this.#count({ status: 'skipped' });
    const probe = admission === 'probe';
    return new Promise<StoreResult<T>>((resolve) => {
      let settled = false;
      const finish = (r: StoreResult<T>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (r.status === 'ok') this.#breaker.succeeded(probe);
        else if (r.status === 'timeout' || r.status === 'error') this.#breaker.failed(probe);
        else this.#breaker.released(probe);
        resolve(this.#countSync(r));
      };
      const onAbort = (): void => finish({ status: 'aborted' });
      const timer = setTimeout(() => finish({ status: 'timeout' }), this.commandTimeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      let p: Promise<T>;
      try {
        p = command();
      } catch {
        finish({ status: 'error' });
        return;
      }
      // A late reply (after a timeout) lands here and is dropped.
      p.then(
        (value) => finish({ status: 'ok', value }),
        () => finish({ status: 'error' }),
      );
    });
  }

  #count<T>(r: StoreResult<T>): Promise<StoreResult<T>> {
    return Promise.resolve(this.#countSync(r));
  }

  #countSync<T>(r: StoreResult<T>): StoreResult<T> {
    switch (r.status) {
      case 'ok':
        this.#c.ok++;
        break;
      case 'timeout':
        this.#c.timeouts++;
        break;
      case 'error':
        this.#c.errors++;
        break;
      case 'skipped':
        this.#c.skipped++;
        break;
      case 'aborted':
        this.#c.aborted++;
        break;
    }
    return r;
  }
}

export function createRedisStore(opts: RedisStoreOptions): RedisStore {
  return new RedisStore(opts);
}
