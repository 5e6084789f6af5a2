/**
 * Remote fetches run on the main thread, in one broker per engine.
 *
 * Why not in the workers: the executor's workers are separate isolates, so a
 * per-worker cache would make N workers missing one key N upstream calls, and
 * N sets of upstream connections. Here every miss of the process meets in one
 * Cache (one flight per key, so N concurrent misses are one upstream call), one
 * undici Pool per origin and one Redis client. Across replicas the Redis L2
 * (REDIS_URL) shares the values, and a short miss lock there (`lockMs`, on by
 * default) makes replicas that miss one key at once wait for one upstream call.
 * The main thread only waits on sockets; decoding happens once per miss.
 *
 * Workers reach the broker over a BroadcastChannel (no piscina plumbing) and
 * keep what they got in their own small front cache (client.ts) under the
 * broker's deadlines, so a warm request never leaves its worker. Tables live
 * in SharedArrayBuffers: posting one to a worker shares it, never copies it.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import type { RemoteFetch } from '../api.js';
import { createCache, type Cache, type CacheStats } from '../cache/cache.js';
import type { LruOptions } from '../cache/lru.js';
import type { DatasetHandle } from '../dataset.js';
import { asAirmailError, clientClosedError, toWire, type WireError } from '../errors.js';
import { tableBytes, tableCodec } from './codec.js';
import { HttpFetcher, type HttpFetcherOptions, type HttpFetchStats } from './http-fetcher.js';
import { describeFetch, remoteKey, statsName } from './key.js';
import { RedisFetcher, type RedisFetchStats } from './redis-fetcher.js';
import { redactText } from '../redact.js';
import type { FetchTrace, UpstreamCall } from '../observe/types.js';
import { traceSampled } from '../observe/trace-context.js';

export interface RemoteOptions {
  /** Cache L2 for HTTP sources and the default Redis of Redis sources. */
  readonly redisUrl?: string;
  /** Bound on each cache command; a slower Redis is a miss. Default 25 ms. */
  readonly commandTimeoutMs?: number;
  /** The in-process cache (L1, or the whole cache without Redis); default 1,000 entries, 256 MiB. */
  readonly lru?: LruOptions;
  /**
   * With Redis: a miss takes a short lock in Redis, and other replicas missing the same key wait
   * (up to this long) for its result instead of calling the upstream too. Default 1000; 0 = off.
   */
  readonly lockMs?: number;
  readonly http?: HttpFetcherOptions;
}

/** A table with the deadlines the worker front cache keeps it under. */
export interface RemoteReply {
  readonly handle: DatasetHandle;
  readonly freshUntil: number;
  readonly staleUntil: number;
  /** When it was loaded: the front caps its deadlines by the policy a later request asks with. */
  readonly storedAt: number;
}

export interface RemoteStats {
  /** Remote caches: `shared` (HTTP; Redis L2 when configured) and `local` (Redis sources: in-process only). */
  readonly shared: CacheStats;
  readonly local: CacheStats;
  readonly http: HttpFetchStats;
  /** Redis sources: fetches refused while a client's breaker was open. */
  readonly redis: RedisFetchStats;
}

/** `refresh`: the worker served a stale table and wants the refreshed one (answered when the refresh lands). */
export type BrokerRequest =
  | { readonly id: number; readonly from: number; readonly fetch: RemoteFetch; readonly refresh?: boolean; readonly trace?: Pick<FetchTrace, 'traceparent' | 'tracestate'> }
  /** The worker's task was cancelled (its client has gone): stop waiting for ask `id` (client.ts cancelPending). */
  | { readonly id: number; readonly from: number; readonly cancel: true };
/** `call`, `joined`: what a traced ask's FetchTrace was told (the upstream call it made, or the one it waited on). */
export type BrokerReply = (
  | { readonly id: number; readonly ok: true; readonly reply: RemoteReply }
  | { readonly id: number; readonly ok: false; readonly error: WireError }
) & { readonly call?: UpstreamCall; readonly joined?: FetchTrace['joined'] };

const MAX_REPLY_CHANNELS = 256;
const DEFAULT_LOCK_MS = 1000;
const DEFAULT_LRU: LruOptions = { maxEntries: 1000, maxBytes: 256 * 1024 * 1024 };

export class RemoteBroker {
  /** Name of the request channel; reply channels are `${channel}:${threadId}`. */
  readonly channel = `airmail-remote:${randomUUID()}`;
  readonly #shared: Cache;
  readonly #local: Cache;
  readonly #http: HttpFetcher;
  readonly #redis: RedisFetcher;
  #requests: BroadcastChannel | undefined;
  readonly #replies = new Map<number, BroadcastChannel>();
  #closed = false;
  /** Asks being served, by `from:id`: a cancel aborts the wait, and the fetch when no other waits on it. */
  readonly #serving = new Map<string, AbortController>();
  /** The traceparent sent by each traced upstream call in flight, by cache key: a traced ask that waits on it links to it. */
  readonly #flights = new Map<string, string>();

  constructor(opts: RemoteOptions = {}) {
    const lru = opts.lru ?? DEFAULT_LRU;
    this.#shared = createCache({
      lru,
      ...(opts.redisUrl ? { redisUrl: opts.redisUrl, keyPrefix: 'airmail:remote:' } : {}),
      ...(opts.commandTimeoutMs ? { commandTimeoutMs: opts.commandTimeoutMs } : {}),
      ...(opts.redisUrl ? { lockMs: opts.lockMs ?? DEFAULT_LOCK_MS } : {}),
    });
    // Redis-held sources are not cached back into Redis: that would only add a round trip.
    this.#local = createCache({ lru });
    this.#http = new HttpFetcher(opts.http);
    this.#redis = new RedisFetcher(opts.redisUrl ? { defaultUrl: opts.redisUrl } : {});
  }

  /** Serve workers on `channel`. Idempotent; the channel never keeps the process alive. */
  listen(): this {
    if (this.#requests || this.#closed) return this;
    const ch = new BroadcastChannel(this.channel);
    ch.unref();
    ch.onmessage = (ev: unknown) => void this.#serve((ev as { data: BrokerRequest }).data);
    this.#requests = ch;
    return this;
  }

  /**
   * The table for `f`, through the cache; SOURCE_FAILED once the source and every fallback failed.
   * `trace` (a traced request's fetch): an upstream call this ask makes itself sends its traceparent
   * and notes the call in it; one that waits on another traced request's call notes that in `joined`.
   */
  async fetch(f: RemoteFetch, signal?: AbortSignal, refresh = false, trace?: FetchTrace): Promise<RemoteReply> {
    const key = remoteKey(f.request);
    // An unsampled request's call has no span: nothing to link to, and it links to nothing.
    const recorded = trace !== undefined && traceSampled(trace.traceparent);
    const flight = recorded ? this.#flights.get(key) : undefined;
    let answered = false;
    const cache = f.request.kind === 'http' ? this.#shared : this.#local;
    // Names the source in metrics and in the table: never a URL's credentials or query.
    const source = f.source !== undefined ? redactText(f.source) : describeFetch(f);
    const loader = async (s: AbortSignal): Promise<DatasetHandle> => {
      // Only while this ask waits: a refresh the cache runs after it was answered is no part of its trace.
      const tr = trace && !answered ? trace : undefined;
      if (tr && recorded) this.#flights.set(key, tr.traceparent);
      try {
        const t = f.request.kind === 'http' ? await this.#http.fetch(f.request, source, s, tr) : await this.#redis.fetch(f.request, source, s, recorded ? tr : undefined);
        return t.handle;
      } finally {
        if (tr && recorded && this.#flights.get(key) === tr.traceparent) this.#flights.delete(key);
      }
    };
    const opts = {
      ttlMs: f.cache.ttlMs,
      ...(f.cache.jitter !== undefined ? { jitter: f.cache.jitter } : {}),
      ...(f.cache.staleMs !== undefined ? { staleMs: f.cache.staleMs } : {}),
      ...(f.cache.staleIfErrorMs !== undefined ? { staleIfErrorMs: f.cache.staleIfErrorMs } : {}),
      source: redactText(statsName(f)),
      // Deadline and refresh messages name the fetch as the worker's do, never by its cache key.
      label: describeFetch(f),
      codec: tableCodec,
      sizeOf: tableBytes,
    };
    let handle: DatasetHandle;
    try {
      handle = refresh ? await cache.fresh<DatasetHandle>(key, loader, opts) : await cache.get<DatasetHandle>(key, loader, opts, signal);
    } finally {
      answered = true;
      if (trace && !trace.call && flight !== undefined) trace.joined = { traceId: flight.slice(3, 35), spanId: flight.slice(36, 52) };
    }
    const d = cache.deadlines(key, f.cache);
    return { handle, freshUntil: d?.freshUntil ?? 0, staleUntil: d?.staleUntil ?? 0, storedAt: d?.storedAt ?? 0 };
  }

  stats(): RemoteStats {
    return { shared: this.#shared.stats(), local: this.#local.stats(), http: this.#http.stats(), redis: this.#redis.stats() };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#requests?.close();
    for (const ch of this.#replies.values()) ch.close();
    this.#replies.clear();
    await Promise.all([this.#shared.close(), this.#local.close(), this.#http.close(), this.#redis.close()]);
  }

  async #serve(req: BrokerRequest): Promise<void> {
    const key = `${req.from}:${req.id}`;
    if ('cancel' in req) {
      this.#serving.get(key)?.abort(clientClosedError());
      return;
    }
    let msg: BrokerReply;
    // A refresh is for the worker's front cache, never cancelled; an ask may be (the cache aborts
    // the fetch itself only when no other request waits on it: cache.ts #wait).
    const ask = req.refresh === true ? undefined : new AbortController();
    if (ask) this.#serving.set(key, ask);
    const trace: FetchTrace | undefined = req.trace ? { ...req.trace } : undefined;
    try {
      msg = { id: req.id, ok: true, reply: await this.fetch(req.fetch, ask?.signal, req.refresh === true, trace) };
    } catch (err) {
      msg = { id: req.id, ok: false, error: toWire(asAirmailError(err, 'SOURCE_FAILED')) };
    } finally {
      if (ask) this.#serving.delete(key);
    }
    if (trace?.call) msg = { ...msg, call: trace.call };
    else if (trace?.joined) msg = { ...msg, joined: trace.joined };
    if (this.#closed || ask?.signal.aborted) return;
    let ch = this.#replies.get(req.from);
    if (!ch) {
      ch = new BroadcastChannel(`${this.channel}:${req.from}`);
      ch.unref();
      this.#replies.set(req.from, ch);
      // Replaced workers get new thread ids: keep the channels of the most recent ones only.
      if (this.#replies.size > MAX_REPLY_CHANNELS) {
        const [oldest, old] = this.#replies.entries().next().value as [number, BroadcastChannel];
        old.close();
        this.#replies.delete(oldest);
      }
    }
    ch.postMessage(msg);
  }
}
