/**
 * The cache against a real redis-server (test/redis-server.ts): coalescing,
 * TTL, stale-while-revalidate, and Redis killed or paused (SIGSTOP) mid-run.
 * Under CI these must run: redisOrSkip() throws when redis-server is missing.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { redisOrSkip, startRedis, type RedisServer } from '../../test/redis-server.js';
import { createCache, type Cache, type Codec } from './cache.js';
import { RedisStore } from './redis-store.js';

const RUN = redisOrSkip();

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((res) => (resolve = res));
  return { promise, resolve };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll until `check` passes or `limitMs` elapses; returns the time it took (or Infinity). */
async function until(check: () => Promise<boolean>, limitMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < limitMs) {
    if (await check()) return Date.now() - start;
    await sleep(50);
  }
  return Number.POSITIVE_INFINITY;
}

let keySeq = 0;
const freshKey = (): string => `k${++keySeq}-${process.pid}`;

describe.skipIf(!RUN)('cache with Redis', () => {
  let redis: RedisServer;
  let raw: Redis;
  const caches: Cache[] = [];
  const make = (opts: Parameters<typeof createCache>[0]): Cache => {
    const c = createCache({ redisUrl: redis.url, commandTimeoutMs: 200, ...opts });
    caches.push(c);
    return c;
  };
  /** Wait until the store's background connect is ready. */
  const ready = async (c: Cache): Promise<void> => {
    expect(await until(async () => c.redis?.client.status === 'ready', 5000)).toBeLessThan(Infinity);
  };

  beforeAll(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
  });
  afterAll(async () => {
    for (const c of caches) await c.close();
    raw?.disconnect();
    await redis?.stop();
  });

  it('coalesces 50 concurrent misses into one Redis read and one loader call; another instance reads it from Redis', async () => {
    const a = make({});
    await ready(a);
    const gate = deferred<number[]>();
    const loader = vi.fn(() => gate.promise);
    const key = freshKey();
    const gets = Array.from({ length: 50 }, () => a.get(key, loader, { ttlMs: 10_000, source: 'ids' }));
    gate.resolve([1, 2, 3]);
    expect(await Promise.all(gets)).toEqual(Array(50).fill([1, 2, 3]));
    expect(loader).toHaveBeenCalledTimes(1);
    expect(a.stats().redis?.commands).toBe(2); // one GET, one SET
    await until(async () => (await raw.exists(`airmail:cache:${key}`)) === 1, 2000);

    const b = make({}); // another worker: own L1, same Redis
    await ready(b);
    const loaderB = vi.fn(async () => [9]);
    expect(await Promise.all(Array.from({ length: 20 }, () => b.get(key, loaderB, { ttlMs: 10_000, source: 'ids' })))).toEqual(
      Array(20).fill([1, 2, 3]),
    );
    expect(loaderB).not.toHaveBeenCalled();
    expect(b.stats().sources['ids']).toMatchObject({ l2Hits: 1, coalesced: 19, upstreamCalls: 0 });
  });

  it('stores binary payloads and sets a Redis TTL; entries expire by the envelope deadline', async () => {
    const c = clock();
    const cache = make({ now: c.now, l1: false });
    await ready(cache);
    const f32: Codec<Float32Array> = {
      encode: (v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
      decode: (b) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)),
    };
    const key = freshKey();
    let n = 0;
    const loader = async (): Promise<Float32Array> => Float32Array.of(++n, 0.5, -1e30);
    const opts = { ttlMs: 60_000, jitter: 0, codec: f32 };
    expect(Array.from(await cache.get(key, loader, opts))).toEqual([1, 0.5, Math.fround(-1e30)]);
    await until(async () => (await raw.exists(`airmail:cache:${key}`)) === 1, 2000);
    const pttl = await raw.pttl(`airmail:cache:${key}`);
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    c.advance(30_000);
    expect(Array.from(await cache.get(key, loader, opts))[0]).toBe(1); // from Redis (no L1)
    c.advance(30_000);
    expect(Array.from(await cache.get(key, loader, opts))[0]).toBe(2); // expired: loaded again
    expect(n).toBe(2);
  });

  it('stale-while-revalidate through Redis: stale now, one refresh, then fresh everywhere', async () => {
    const c = clock();
    const a = make({ now: c.now, l1: false });
    const b = make({ now: c.now });
    await ready(a);
    await ready(b);
    const key = freshKey();
    const opts = { ttlMs: 1000, jitter: 0, staleMs: 60_000, source: 'swr' };
    await a.get(key, async () => 'v1', opts);
    c.advance(2000);
    const gate = deferred<string>();
    const loader = vi.fn(() => gate.promise);
    expect(await Promise.all(Array.from({ length: 10 }, () => a.get(key, loader, opts)))).toEqual(Array(10).fill('v1'));
    await until(async () => loader.mock.calls.length === 1, 2000);
    gate.resolve('v2');
    expect(await until(async () => (await a.get(key, loader, opts)) === 'v2', 3000)).toBeLessThan(Infinity);
    expect(loader).toHaveBeenCalledTimes(1);
    expect(await b.get(key, async () => 'other', opts)).toBe('v2'); // the refresh reached Redis
  });

  it('Redis killed mid-run: gets keep succeeding through the loader, then Redis is used again once it is back', async () => {
    const own = await startRedis();
    const cache = createCache({ redisUrl: own.url, commandTimeoutMs: 200, l1: false });
    try {
      await ready(cache);
      await cache.get(freshKey(), async () => 1, { ttlMs: 60_000 });
      await own.kill();
      const loader = vi.fn(async () => 'from-upstream');
      for (let i = 0; i < 20; i++) expect(await cache.get(freshKey(), loader, { ttlMs: 60_000, source: 'dead' })).toBe('from-upstream');
      expect(loader).toHaveBeenCalledTimes(20);
      const s = cache.stats().sources['dead'];
      expect((s?.redisErrors ?? 0) + (s?.redisSkipped ?? 0) + (s?.redisTimeouts ?? 0)).toBeGreaterThan(0);

      const back = await startRedis({ port: own.port });
      try {
        const key = freshKey();
        const okBefore = cache.stats().redis?.ok ?? 0;
        const took = await until(async () => {
          await cache.get(key, loader, { ttlMs: 60_000 });
          return (cache.stats().redis?.ok ?? 0) > okBefore;
        }, 10_000);
        expect(took).toBeLessThan(5000);
      } finally {
        await back.stop();
      }
    } finally {
      await cache.close();
      await own.kill();
    }
  });

  it('Redis paused (SIGSTOP): every get finishes within the command timeout, the breaker skips Redis, resume brings it back', async () => {
    const own = await startRedis();
    const cache = createCache({ redisUrl: own.url, commandTimeoutMs: 25, l1: false });
    try {
      await ready(cache);
      own.pause();
      const loader = vi.fn(async () => 'v');
      let slowest = 0;
      for (let i = 0; i < 30; i++) {
        const t0 = performance.now();
        expect(await cache.get(freshKey(), loader, { ttlMs: 60_000, source: 'paused' })).toBe('v');
        slowest = Math.max(slowest, performance.now() - t0);
      }
      // A stalled Redis would hang here forever; the bound is generous (25 ms timeout) to stay robust on slow CI.
      expect(slowest).toBeLessThan(1000);
      const s = cache.stats().sources['paused'];
      expect(s?.redisTimeouts).toBeGreaterThanOrEqual(3);
      expect(s?.redisSkipped).toBeGreaterThan(0); // the breaker opened: later gets did not wait at all
      expect(cache.redis?.stats().breakerOpened).toBeGreaterThanOrEqual(1);

      own.resume();
      const key = freshKey();
      const okBefore = cache.stats().redis?.ok ?? 0;
      const took = await until(async () => {
        await cache.get(key, loader, { ttlMs: 60_000 });
        return (cache.stats().redis?.ok ?? 0) > okBefore;
      }, 10_000);
      expect(took).toBeLessThan(5000);
      expect(cache.redis?.breakerState).toBe('closed');
    } finally {
      own.resume();
      await cache.close();
      await own.stop();
    }
  });

  it('an aborted request stops waiting on a paused Redis', async () => {
    const own = await startRedis();
    const store = new RedisStore({ url: own.url, commandTimeoutMs: 60_000 });
    try {
      expect(await until(async () => store.client.status === 'ready', 5000)).toBeLessThan(Infinity);
      own.pause();
      const ac = new AbortController();
      const pending = store.getBuffer('x', ac.signal);
      setTimeout(() => ac.abort(), 20);
      expect((await pending).status).toBe('aborted');
    } finally {
      own.resume();
      await store.close();
      await own.stop();
    }
  });
});
