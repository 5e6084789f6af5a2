/** The cache without Redis: the in-process LRU is the whole cache (the embedded default). */
import { describe, expect, it, vi } from 'vitest';
import { AirmailError } from '../errors.js';
import { createCache } from './cache.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('cache (in-process)', () => {
  it('coalesces 50 concurrent misses of one key into one loader call', async () => {
    const cache = createCache();
    const gate = deferred<string[]>();
    const loader = vi.fn(() => gate.promise);
    const gets = Array.from({ length: 50 }, () => cache.get('k', loader, { ttlMs: 1000, source: 's' }));
    gate.resolve(['a', 'b']);
    const values = await Promise.all(gets);
    expect(loader).toHaveBeenCalledTimes(1);
    expect(values.every((v) => v === values[0])).toBe(true);
    expect(values[0]).toEqual(['a', 'b']);
    expect(cache.stats().sources['s']).toMatchObject({ gets: 50, misses: 50, coalesced: 49, upstreamCalls: 1 });
    await cache.get('k', loader, { ttlMs: 1000, source: 's' });
    expect(loader).toHaveBeenCalledTimes(1);
    expect(cache.stats().sources['s']?.hits).toBe(1);
  });

  it('expires after the TTL', async () => {
    const c = clock();
    const cache = createCache({ now: c.now });
    let n = 0;
    const loader = async (): Promise<number> => ++n;
    expect(await cache.get('k', loader, { ttlMs: 100, jitter: 0 })).toBe(1);
    c.advance(99);
    expect(await cache.get('k', loader, { ttlMs: 100, jitter: 0 })).toBe(1);
    c.advance(1);
    expect(await cache.get('k', loader, { ttlMs: 100, jitter: 0 })).toBe(2);
  });

  it('jitter spreads expiries inside [ttl·(1−jitter), ttl]', async () => {
    const c = clock();
    const cache = createCache({ now: c.now });
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    for (const k of keys) await cache.get(k, async () => 0, { ttlMs: 1000, jitter: 0.2 });
    const alive = async (): Promise<number> => {
      let live = 0;
      for (const k of keys) if ((await cache.get(k, async () => 1, { ttlMs: 1_000_000, jitter: 0 })) === 0) live++;
      return live;
    };
    c.advance(799);
    expect(await alive()).toBe(200); // none before ttl·(1−jitter)
    c.advance(101); // t = 900: roughly half expired
    const mid = await alive();
    expect(mid).toBeGreaterThan(20);
    expect(mid).toBeLessThan(180);
    c.advance(100); // t = 1000: all expired
    expect(await alive()).toBe(0);
  });

  it('serves stale immediately, refreshes once in the background, then serves the fresh value', async () => {
    const c = clock();
    const cache = createCache({ now: c.now });
    const opts = { ttlMs: 100, jitter: 0, staleMs: 1000, source: 'swr' };
    await cache.get('k', async () => 'v1', opts);
    c.advance(150);
    const gate = deferred<string>();
    const loader = vi.fn(() => gate.promise);
    const stale = await Promise.all(Array.from({ length: 10 }, () => cache.get('k', loader, opts)));
    expect(stale).toEqual(Array(10).fill('v1'));
    expect(loader).toHaveBeenCalledTimes(1);
    gate.resolve('v2');
    await flush();
    expect(await cache.get('k', loader, opts)).toBe('v2');
    expect(loader).toHaveBeenCalledTimes(1);
    expect(cache.stats().sources['swr']).toMatchObject({ staleServes: 10, refreshes: 1, upstreamCalls: 2, hits: 1 });
  });

  it('past the stale window the loader runs again and a failure propagates as a coded error', async () => {
    const c = clock();
    const cache = createCache({ now: c.now });
    const opts = { ttlMs: 100, jitter: 0, staleMs: 100, source: 'x' };
    await cache.get('k', async () => 'v1', opts);
    c.advance(250);
    const err = await cache.get('k', async () => Promise.reject(new Error('upstream down')), opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AirmailError);
    expect((err as AirmailError).code).toBe('SOURCE_FAILED');
    expect(cache.stats().sources['x']?.errors).toBe(1);
  });

  it('staleIfErrorMs answers a failed load with the kept value', async () => {
    const c = clock();
    const cache = createCache({ now: c.now });
    const opts = { ttlMs: 100, jitter: 0, staleIfErrorMs: 10_000, source: 'sie' };
    await cache.get('k', async () => 'kept', opts);
    c.advance(500);
    expect(await cache.get('k', async () => Promise.reject(new Error('boom')), opts)).toBe('kept');
    expect(cache.stats().sources['sie']).toMatchObject({ errors: 1, staleOnError: 1 });
    expect(await cache.get('k', async () => 'new', opts)).toBe('new');
  });

  it('a waiter that aborts leaves the others and the shared load alone', async () => {
    const cache = createCache();
    const gate = deferred<string>();
    let loaderSignal: AbortSignal | undefined;
    const loader = (s: AbortSignal): Promise<string> => ((loaderSignal = s), gate.promise);
    const ac = new AbortController();
    const a = cache.get('k', loader, { ttlMs: 1000 }, ac.signal);
    const b = cache.get('k', loader, { ttlMs: 1000 }, new AbortController().signal);
    ac.abort();
    await expect(a).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(loaderSignal?.aborted).toBe(false);
    gate.resolve('v');
    expect(await b).toBe('v');
  });

  it('when every waiter aborts, the loader is aborted and the next get starts afresh', async () => {
    const cache = createCache();
    let loaderSignal: AbortSignal | undefined;
    const hang = (s: AbortSignal): Promise<string> => ((loaderSignal = s), new Promise<string>(() => undefined));
    const ac = new AbortController();
    const a = cache.get('k', hang, { ttlMs: 1000 }, ac.signal);
    ac.abort(new AirmailError('DEADLINE_EXCEEDED', 'deadline'));
    await expect(a).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', message: 'deadline' });
    expect(loaderSignal?.aborted).toBe(true);
    expect(await cache.get('k', async () => 'fresh', { ttlMs: 1000 })).toBe('fresh');
  });

  it('an already aborted signal fails before any work', async () => {
    const cache = createCache();
    const loader = vi.fn(async () => 1);
    await expect(cache.get('k', loader, { ttlMs: 1 }, AbortSignal.abort())).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(loader).not.toHaveBeenCalled();
  });

  it('bounds the LRU by bytes using sizeOf', async () => {
    const cache = createCache({ lru: { maxBytes: 1000 } });
    for (let i = 0; i < 20; i++) await cache.get(`k${i}`, async () => new Float64Array(25), { ttlMs: 10_000 }); // 200 B each
    expect(cache.stats().lru.entries).toBe(5);
    expect(cache.stats().lru.bytes).toBe(1000);
  });
});

describe('issue: deadline messages of a wait on the cache named its internal key (with the whole URL)', () => {
  const KEY = 'http:json::http://user:pw@up.example/recs?token=s3cret';
  const LABEL = 'HttpSource GET http://***@up.example/recs?***';

  it('a request that joined a load already out and hit its deadline names the fetch by its label', async () => {
    const cache = createCache();
    const gate = deferred<string>();
    const first = cache.get(KEY, () => gate.promise, { ttlMs: 1000, source: 's', label: LABEL });
    const ac = new AbortController();
    const joined = cache.get(KEY, () => gate.promise, { ttlMs: 1000, source: 's', label: LABEL }, ac.signal);
    expect(cache.stats().sources['s']?.coalesced).toBe(1);
    ac.abort();
    const err = (await joined.catch((e: unknown) => e)) as AirmailError;
    expect(err.code).toBe('DEADLINE_EXCEEDED');
    expect(err.message).toBe(`the request's deadline passed while waiting for ${LABEL}`);
    expect(err.details?.['waitingFor']).toBe(LABEL);
    gate.resolve('v');
    expect(await first).toBe('v');
  });

  it('without a label, the source names it; the key never shows', async () => {
    const cache = createCache();
    const ac = new AbortController();
    const p = cache.get(KEY, () => new Promise<string>(() => undefined), { ttlMs: 1000, source: 'Recs' }, ac.signal);
    ac.abort();
    const err = (await p.catch((e: unknown) => e)) as AirmailError;
    expect(err.message).toBe("the request's deadline passed while waiting for source Recs");
    expect(err.message).not.toContain('s3cret');
  });

  it('a background refresh that outlives its bound is the source not answering (SOURCE_FAILED), not a request deadline', async () => {
    const c = clock();
    const cache = createCache({ now: c.now });
    const opts = { ttlMs: 1000, jitter: 0, staleMs: 60_000, source: 's', label: LABEL, refreshTimeoutMs: 20 };
    expect(await cache.get(KEY, async () => 'v1', opts)).toBe('v1');
    c.advance(1500);
    // A loader that stops when told, as the HTTP and Redis fetchers do.
    const hang = (s: AbortSignal): Promise<string> => new Promise<string>((_, reject) => s.addEventListener('abort', () => reject(new Error('aborted'))));
    const err = (await cache.fresh(KEY, hang, opts).catch((e: unknown) => e)) as AirmailError;
    expect(err.code).toBe('SOURCE_FAILED');
    expect(err.message).toBe(`${LABEL}: no answer within 20 ms (background refresh)`);
  });
});
