/**
 * The cache every remote source goes through.
 *
 *   fresh hit  → the value.
 *   stale hit  → the value now, plus one background refresh (coalesced).
 *   miss       → one flight per key in this process: L2 (Redis) read, then the
 *                loader; N concurrent misses share it (one upstream call).
 *
 * Layers. The in-process LRU is always there. With Redis configured it is L1
 * in front of Redis (L2): L1 holds decoded values under the same fresh/stale
 * deadlines as the Redis envelope, so it never serves anything Redis would
 * not, and a hot key costs no round trip or decode. The price: a `delete()`
 * reaches this instance's L1 and Redis, not the L1 of other workers, which
 * keep the value until its own deadline. Set `l1: false` where that matters.
 *
 * Redis never makes a request fail or stall: its commands are bounded by the
 * store's command timeout and breaker (see redis-store.ts) and any failure is
 * a miss. Cross-process coalescing (a short `SET key:lock NX PX` lock, other
 * processes poll L2 for the result) is off by default: `lockMs > 0` enables it.
 *
 * The engine runs sources in worker threads; create one Cache per worker (or
 * share one RedisStore between several caches via `redis`).
 */
import { AirmailError, asAirmailError } from '../errors.js';
import { abortError, sleep, throwIfAborted } from './abort.js';
import { Flights } from './flights.js';
import { estimateSize, Lru, type LruOptions, type LruStats } from './lru.js';
import { RedisStore, type BreakerOptions, type RedisStoreStats, type StoreStatus } from './redis-store.js';

export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** UTF-8 JSON; the default codec for Redis. */
export function jsonCodec<T>(): Codec<T> {
  return {
    encode: (value) => Buffer.from(JSON.stringify(value)),
    decode: (bytes) => JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as T,
  };
}

export interface CacheGetOptions<T> {
  /** Fresh lifetime in ms (before jitter). */
  readonly ttlMs: number;
  /** Fraction in [0, 1): the effective TTL is uniform in [ttl·(1−jitter), ttl]; default 0.1. */
  readonly jitter?: number;
  /** Stale-while-revalidate window after the fresh lifetime; default 0. */
  readonly staleMs?: number;
  /** After the stale window, keep the value this long as a fallback when the loader fails; default 0. */
  readonly staleIfErrorMs?: number;
  /** Stats bucket (the source name); default 'default'. */
  readonly source?: string;
  /** Redis encoding; default JSON. */
  readonly codec?: Codec<T>;
  /** Bytes accounted in the LRU when it has maxBytes; default the encoded size or an estimate. */
  readonly sizeOf?: (value: T) => number;
  /**
   * The value in people's words for error messages, URLs redacted (the broker: `HttpSource GET
   * http://host/path`); default the source. Never the key: it holds the whole URL.
   */
  readonly label?: string;
  /** Bound on a background refresh; default 10 s. */
  readonly refreshTimeoutMs?: number;
}

export interface CacheOptions {
  readonly redisUrl?: string;
  /** A store to share (not closed by this cache); wins over redisUrl. */
  readonly redis?: RedisStore;
  readonly commandTimeoutMs?: number;
  readonly breaker?: BreakerOptions;
  readonly lru?: LruOptions;
  /** Use the LRU in front of Redis; default true. Without Redis the LRU is the cache. */
  readonly l1?: boolean;
  /** Redis key prefix; default 'airmail:cache:'. */
  readonly keyPrefix?: string;
  /** Cross-process miss lock in ms; 0 (default) = coalesce in this process only. */
  readonly lockMs?: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface SourceStats {
  /** Every get. */
  readonly gets: number;
  /** Fresh values served from the in-process LRU. */
  readonly hits: number;
  /** Flights (misses, refreshes) answered by a fresh Redis entry, without the loader. */
  readonly l2Hits: number;
  /** Gets that found nothing fresh or stale in L1 and waited on a flight. */
  readonly misses: number;
  /** Misses that joined a flight already running. */
  readonly coalesced: number;
  /** Stale values served (a refresh was started or already running). */
  readonly staleServes: number;
  /** Loader calls. */
  readonly upstreamCalls: number;
  /** Loader failures. */
  readonly errors: number;
  /** Loader failures answered with a value kept for staleIfErrorMs. */
  readonly staleOnError: number;
  readonly refreshes: number;
  readonly redisTimeouts: number;
  readonly redisErrors: number;
  /** Redis commands skipped by the open breaker. */
  readonly redisSkipped: number;
}

export interface CacheStats {
  readonly sources: Readonly<Record<string, SourceStats>>;
  readonly lru: LruStats;
  readonly redis: RedisStoreStats | undefined;
}

export interface Cache {
  get<T>(key: string, loader: (signal: AbortSignal) => Promise<T>, opts: CacheGetOptions<T>, signal?: AbortSignal): Promise<T>;
  /**
   * A value no older than its TTL: joins the load already running for key (a
   * miss or a stale refresh) or starts one. For a front cache that served a
   * stale value and wants the refreshed one without polling.
   */
  fresh<T>(key: string, loader: (signal: AbortSignal) => Promise<T>, opts: CacheGetOptions<T>): Promise<T>;
  /** Drop key from this instance's L1 and from Redis. */
  delete(key: string): Promise<void>;
  /**
   * The L1 deadlines of key (fresh until, then stale-servable until, and when it was stored), without
   * touching recency; under `policy`, no later than its TTL and stale window allow (policyDeadlines).
   */
  deadlines(key: string, policy?: Policy): { readonly freshUntil: number; readonly staleUntil: number; readonly storedAt: number } | undefined;
  stats(): CacheStats;
  readonly redis: RedisStore | undefined;
  /** Close the Redis store when this cache created it. Safe to call twice. */
  close(): Promise<void>;
}

export function createCache(opts: CacheOptions = {}): Cache {
  return new TieredCache(opts);
}

type Counters = { -readonly [K in keyof SourceStats]: number };
const zero = (): Counters => ({
  gets: 0, hits: 0, l2Hits: 0, misses: 0, coalesced: 0, staleServes: 0, upstreamCalls: 0,
  errors: 0, staleOnError: 0, refreshes: 0, redisTimeouts: 0, redisErrors: 0, redisSkipped: 0,
});

/** What L1 holds: the LRU's staleUntil is the retention end (stale + staleIfError). */
interface Slot {
  readonly value: unknown;
  readonly staleUntil: number;
  /** When the value was loaded (epoch ms; Infinity when unknown: an envelope written before it was kept). */
  readonly storedAt: number;
}

type Policy = Pick<CacheGetOptions<unknown>, 'ttlMs' | 'staleMs'>;

/**
 * A value's deadlines under the policy it is asked with now. A value stored under a longer TTL (a
 * config since changed to a shorter one) is fresh only as long as the current TTL allows after it
 * was stored, and stale-servable only as long as the current stale window allows after that: a
 * shortened `ttl_ms` takes effect at once, not when the old TTL runs out.
 */
export function policyDeadlines(freshUntil: number, staleUntil: number, storedAt: number, policy: Policy): { freshUntil: number; staleUntil: number } {
  const fresh = Math.min(freshUntil, storedAt + policy.ttlMs);
  return { freshUntil: fresh, staleUntil: Math.min(staleUntil, fresh + Math.max(0, policy.staleMs ?? 0)) };
}

interface Outcome {
  readonly value: unknown;
  /** Served from a stale Redis entry: the caller starts a refresh. */
  readonly stale?: boolean;
  readonly staleOnError?: boolean;
}

// Envelope in Redis: version byte, freshUntil and staleUntil as float64 LE, then the payload.
/** What error messages call a value (see CacheGetOptions.label). */
function labelOf(opts: { readonly label?: string; readonly source?: string }): string {
  return opts.label ?? (opts.source ? `source ${opts.source}` : 'a cached value');
}

// 0xa2 adds storedAt (float64 LE) after staleUntil; 0xa1 envelopes (without it) are still read.
const ENVELOPE_VERSION = 0xa2;
const HEADER = 25;
const LEGACY_VERSION = 0xa1;
const LEGACY_HEADER = 17;

class TieredCache implements Cache {
  readonly redis: RedisStore | undefined;
  readonly #ownsRedis: boolean;
  readonly #lru: Lru<Slot>;
  readonly #l1: boolean;
  readonly #boundedBytes: boolean;
  readonly #lockMs: number;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #flights = new Flights<Outcome>();
  readonly #stats = new Map<string, Counters>();

  constructor(opts: CacheOptions) {
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? Math.random;
    this.#lru = new Lru<Slot>(opts.lru);
    this.#boundedBytes = opts.lru?.maxBytes !== undefined;
    this.#lockMs = opts.lockMs ?? 0;
    if (opts.redis) {
      this.redis = opts.redis;
      this.#ownsRedis = false;
    } else if (opts.redisUrl) {
      this.redis = new RedisStore({
        url: opts.redisUrl,
        commandTimeoutMs: opts.commandTimeoutMs,
        breaker: opts.breaker,
        keyPrefix: opts.keyPrefix ?? 'airmail:cache:',
        now: opts.now,
      });
      this.#ownsRedis = true;
    } else {
      this.redis = undefined;
      this.#ownsRedis = false;
    }
    this.#l1 = this.redis === undefined || opts.l1 !== false;
  }

  async get<T>(key: string, loader: (signal: AbortSignal) => Promise<T>, opts: CacheGetOptions<T>, signal?: AbortSignal): Promise<T> {
    const st = this.#counters(opts.source);
    st.gets++;
    throwIfAborted(signal, labelOf(opts));
    if (this.#l1) {
      const now = this.#now();
      const e = this.#lru.get(key, now);
      if (e !== undefined) {
        const d = policyDeadlines(e.freshUntil, e.value.staleUntil, e.value.storedAt, opts);
        if (now < d.freshUntil) {
          st.hits++;
          return e.value.value as T;
        }
        if (now < d.staleUntil) {
          st.staleServes++;
          this.#refresh(key, loader, opts, st);
          return e.value.value as T;
        }
      }
    }
    st.misses++;
    let flight = this.#flights.get(key);
    if (flight !== undefined) st.coalesced++;
    else flight = this.#flights.start(key, (s) => this.#fill(key, loader, opts, st, s, 'get'));
    const out = await this.#flights.wait(key, flight, signal, labelOf(opts));
    if (out.stale) {
      st.staleServes++;
      this.#refresh(key, loader, opts, st);
    }
    return out.value as T;
  }

  async fresh<T>(key: string, loader: (signal: AbortSignal) => Promise<T>, opts: CacheGetOptions<T>): Promise<T> {
    const e = this.#l1 ? this.#lru.peek(key, this.#now()) : undefined;
    if (e !== undefined && this.#now() < policyDeadlines(e.freshUntil, e.value.staleUntil, e.value.storedAt, opts).freshUntil && !this.#flights.has(key)) return e.value.value as T;
    if (!this.#flights.has(key)) this.#refresh(key, loader, opts, this.#counters(opts.source));
    const flight = this.#flights.get(key);
    if (flight === undefined) return this.get(key, loader, opts);
    flight.pinned = true;
    return (await flight.promise).value as T;
  }

  async delete(key: string): Promise<void> {
    this.#lru.delete(key);
    await this.redis?.delete(key);
  }

  deadlines(key: string, policy?: Policy): { readonly freshUntil: number; readonly staleUntil: number; readonly storedAt: number } | undefined {
    const e = this.#lru.peek(key, this.#now());
    if (e === undefined) return undefined;
    const d = policy ? policyDeadlines(e.freshUntil, e.value.staleUntil, e.value.storedAt, policy) : { freshUntil: e.freshUntil, staleUntil: e.value.staleUntil };
    return { ...d, storedAt: e.value.storedAt };
  }

  stats(): CacheStats {
    const sources: Record<string, SourceStats> = Object.create(null) as Record<string, SourceStats>;
    for (const [name, c] of this.#stats) sources[name] = { ...c };
    return { sources, lru: this.#lru.stats(), redis: this.redis?.stats() };
  }

  async close(): Promise<void> {
    this.#flights.abortAll('cache closed');
    if (this.#ownsRedis) await this.redis?.close();
  }

  #counters(source = 'default'): Counters {
    let c = this.#stats.get(source);
    if (c === undefined) this.#stats.set(source, (c = zero()));
    return c;
  }


  #refresh<T>(key: string, loader: (signal: AbortSignal) => Promise<T>, opts: CacheGetOptions<T>, st: Counters): void {
    if (this.#flights.has(key)) return; // a load for this key is already running
    st.refreshes++;
    const flight = this.#flights.start(key, (s) => this.#fill(key, loader, opts, st, s, 'refresh'), true, { ms: opts.refreshTimeoutMs ?? 10_000, label: labelOf(opts) });
    flight.promise.catch(() => undefined); // counted in #fill; the stale value was already served
  }

  async #fill<T>(
    key: string,
    loader: (signal: AbortSignal) => Promise<T>,
    opts: CacheGetOptions<T>,
    st: Counters,
    signal: AbortSignal,
    mode: 'get' | 'refresh',
  ): Promise<Outcome> {
    const codec = opts.codec ?? jsonCodec<T>();
    let fallback: { value: unknown } | undefined;
    if (this.#l1) {
      const e = this.#lru.peek(key, this.#now());
      if (e !== undefined) {
        if (mode === 'refresh' && this.#now() < policyDeadlines(e.freshUntil, e.value.staleUntil, e.value.storedAt, opts).freshUntil) return { value: e.value.value }; // refreshed meanwhile
        fallback = { value: e.value.value };
      }
    }
    if (this.redis !== undefined) {
      const l2 = await this.#readL2(key, codec, st, signal, labelOf(opts));
      if (l2 !== undefined) {
        const now = this.#now();
        const d = policyDeadlines(l2.freshUntil, l2.staleUntil, l2.storedAt, opts);
        if (now < d.freshUntil) {
          st.l2Hits++;
          this.#setL1(key, l2.value, l2.freshUntil, l2.staleUntil, l2.retainUntil, l2.storedAt, l2.size, opts);
          return { value: l2.value };
        }
        if (mode === 'get' && now < d.staleUntil) {
          this.#setL1(key, l2.value, l2.freshUntil, l2.staleUntil, l2.retainUntil, l2.storedAt, l2.size, opts);
          return { value: l2.value, stale: true };
        }
        fallback ??= { value: l2.value };
      }
      if (this.#lockMs > 0) {
        const waited = await this.#awaitOtherLoader(key, codec, opts, st, signal, labelOf(opts));
        if (waited !== undefined) return waited;
      }
    }
    st.upstreamCalls++;
    let value: T;
    try {
      value = await loader(signal);
    } catch (err) {
      if (signal.aborted) throw abortError(signal, labelOf(opts));
      st.errors++;
      if (fallback !== undefined) {
        st.staleOnError++;
        return { value: fallback.value, staleOnError: true };
      }
      throw asAirmailError(err, 'SOURCE_FAILED');
    }
    this.#store(key, value, opts, codec, st);
    return { value };
  }

  /** lockMs > 0: take `key:lock`; if another process holds it, poll L2 for its result until the lock would expire. */
  async #awaitOtherLoader<T>(key: string, codec: Codec<T>, policy: Policy, st: Counters, signal: AbortSignal, label: string): Promise<Outcome | undefined> {
    const redis = this.redis as RedisStore;
    const lock = await redis.setNx(`${key}:lock`, '1', this.#lockMs, signal);
    this.#countRedis(lock.status, st);
    if (lock.status !== 'ok' || lock.value) return undefined; // we load (also when Redis is unhealthy)
    const until = this.#now() + this.#lockMs;
    while (this.#now() < until) {
      await sleep(Math.min(10, this.#lockMs), signal, label);
      const l2 = await this.#readL2(key, codec, st, signal, label);
      if (l2 !== undefined && this.#now() < policyDeadlines(l2.freshUntil, l2.staleUntil, l2.storedAt, policy).freshUntil) return { value: l2.value };
      if (this.redis?.breakerState !== 'closed') return undefined;
    }
    return undefined;
  }

  async #readL2<T>(
    key: string,
    codec: Codec<T>,
    st: Counters,
    signal: AbortSignal,
    label: string,
  ): Promise<{ value: T; freshUntil: number; staleUntil: number; retainUntil: number; storedAt: number; size: number } | undefined> {
    const r = await (this.redis as RedisStore).getBuffer(key, signal);
    if (r.status === 'aborted') throw abortError(signal, label);
    this.#countRedis(r.status, st);
    if (r.status !== 'ok' || r.value === null) return undefined;
    const buf = r.value;
    const header = buf[0] === ENVELOPE_VERSION ? HEADER : buf[0] === LEGACY_VERSION ? LEGACY_HEADER : 0;
    if (header === 0 || buf.length < header) {
      st.redisErrors++;
      return undefined;
    }
    try {
      const freshUntil = buf.readDoubleLE(1);
      const staleUntil = buf.readDoubleLE(9);
      const storedAt = header === HEADER ? buf.readDoubleLE(17) : Infinity;
      const value = codec.decode(buf.subarray(header));
      // Redis expires the key at retention end; the remaining PX is not read back, so L1 keeps it to staleUntil.
      return { value, freshUntil, staleUntil, retainUntil: staleUntil, storedAt, size: buf.length - header };
    } catch {
      st.redisErrors++;
      return undefined;
    }
  }

  #store<T>(key: string, value: T, opts: CacheGetOptions<T>, codec: Codec<T>, st: Counters): void {
    const now = this.#now();
    const jitter = Math.min(Math.max(opts.jitter ?? 0.1, 0), 0.99);
    const ttl = opts.ttlMs * (1 - jitter * this.#random());
    const freshUntil = now + ttl;
    const staleUntil = freshUntil + Math.max(0, opts.staleMs ?? 0);
    const retainUntil = staleUntil + Math.max(0, opts.staleIfErrorMs ?? 0);
    let encodedSize: number | undefined;
    if (this.redis !== undefined) {
      try {
        const payload = codec.encode(value);
        encodedSize = payload.byteLength;
        const buf = Buffer.allocUnsafe(HEADER + payload.byteLength);
        buf[0] = ENVELOPE_VERSION;
        buf.writeDoubleLE(freshUntil, 1);
        buf.writeDoubleLE(staleUntil, 9);
        buf.writeDoubleLE(now, 17);
        buf.set(payload, HEADER);
        // Write-behind: bounded by the command timeout, never awaited by the request.
        void this.redis.set(key, buf, retainUntil - now).then((r) => this.#countRedis(r.status, st));
      } catch {
        st.redisErrors++;
      }
    }
    this.#setL1(key, value, freshUntil, staleUntil, retainUntil, now, encodedSize, opts);
  }

  #setL1<T>(key: string, value: T, freshUntil: number, staleUntil: number, retainUntil: number, storedAt: number, size: number | undefined, opts: CacheGetOptions<T>): void {
    if (!this.#l1) return;
    const bytes = this.#boundedBytes ? (opts.sizeOf?.(value) ?? size ?? estimateSize(value)) : 0;
    this.#lru.set(key, { value, staleUntil, storedAt }, freshUntil, retainUntil, bytes);
  }

  #countRedis(status: StoreStatus, st: Counters): void {
    if (status === 'timeout') st.redisTimeouts++;
    else if (status === 'error') st.redisErrors++;
    else if (status === 'skipped') st.redisSkipped++;
  }
}
