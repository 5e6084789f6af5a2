/**
 * Remote sources cached in a real redis-server (REDIS_URL-style L2), as
 * replicas run them: two engines share the cache (the second one's cold start
 * makes no upstream call), and Redis stopped or paused (SIGSTOP) mid-run costs
 * no request an error: a cache command that does not answer within its
 * timeout is a miss, and the upstream answers instead. Under CI these run:
 * redisOrSkip() throws when redis-server is missing.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine/engine.js';
import { json, startUpstream, type Upstream } from '../engine/remote/upstream-fixture.js';
import { builtinOperators } from '../operators/index.js';
import { redisOrSkip, startRedis, type RedisServer } from './redis-server.js';

const RUN = redisOrSkip();
const OPERATORS_URL = new URL('../operators/index.ts', import.meta.url).href;
const CLIENTS = 400;

let upstream: Upstream;
let redis: RedisServer;
let dir: string;
const engines: Engine[] = [];

async function engine(redisUrl: string, commandTimeoutMs = 50): Promise<Engine> {
  const e = new Engine({ configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads: 0, watch: false, remote: { redisUrl, commandTimeoutMs } });
  expect(await e.start()).toEqual([]);
  engines.push(e);
  return e;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const run = (e: Engine, client: number, pipeline = 'inv') => e.run(e.pipeline(pipeline), { client_id: client });

/** Redis client status of the engine's cache, once it is ready. */
async function redisReady(e: Engine): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < 5000) {
    if (e.remote.stats().shared.redis?.connection === 'ready') return;
    await sleep(20);
  }
  throw new Error('the cache never connected to Redis');
}

describe.skipIf(!RUN)('remote sources cached in Redis', () => {
  beforeAll(async () => {
    redis = await startRedis();
    upstream = await startUpstream({ handler: (u) => json([{ sku_id: Number(u.searchParams.get('w')) * 10 }, { sku_id: Number(u.searchParams.get('w')) * 10 + 1 }]) });
    dir = await mkdtemp(join(tmpdir(), 'airmail-remote-redis-'));
    await mkdir(join(dir, 'data'));
    // Every client its own warehouse: every first request of a client is a cache miss.
    await writeFile(join(dir, 'data', 'clients.json'), JSON.stringify(Array.from({ length: CLIENTS }, (_, i) => ({ client_id: i + 1, warehouse_id: i + 1 }))));
    await writeFile(join(dir, 'inv.yaml'), `
datasets: {clients: {path: data/clients.json, key: client_id}}
contexts: {client: {dataset: clients, key: $client_id}}
operators:
  Inventory: {use: HttpSource, parameters: {url: '${upstream.url}/inv?w={w}', vars: {w: $client.warehouse_id}, ttl_ms: 60000, timeout_ms: 500, retries: 1}}
# Two names for one pipeline: engines that share a thread (threads: 0) also share its
# candidate memo, so the second replica runs its own version to reach its own cache.
pipelines:
- {name: inv, item_type: sku_id, initialization: {includes: [Inventory]}, return: [sku_id]}
- {name: inv_b, item_type: sku_id, initialization: {includes: [Inventory]}, return: [sku_id]}
`);
  });
  afterAll(async () => {
    for (const e of engines) await e.close();
    await upstream?.close();
    await redis?.stop();
  });

  it('replicas share the cache: a second engine answers from Redis without calling the upstream', async () => {
    // A patient command timeout: this test is about sharing, not about a slow Redis (a busy CI machine is one).
    const a = await engine(redis.url, 2000);
    const b = await engine(redis.url, 2000);
    await Promise.all([redisReady(a), redisReady(b)]);
    upstream.reset();
    for (let c = 1; c <= 10; c++) expect((await run(a, c)).items).toEqual([{ sku_id: c * 10 }, { sku_id: c * 10 + 1 }]);
    expect(upstream.calls.total).toBe(10);
    // The write to Redis is behind the response: wait until all ten are there.
    const raw = new Redis(redis.url);
    try {
      const t0 = Date.now();
      const entries = async () => (await raw.keys('airmail:remote:*')).filter((k) => !k.endsWith(':lock'));
      while ((await entries()).length < 10 && Date.now() - t0 < 5000) await sleep(20);
      expect(await entries()).toHaveLength(10);
    } finally {
      raw.disconnect();
    }
    for (let c = 1; c <= 10; c++) expect((await run(b, c, 'inv_b')).items).toEqual([{ sku_id: c * 10 }, { sku_id: c * 10 + 1 }]);
    expect(upstream.calls.total).toBe(10);
    const bucket = Object.values(b.remote.stats().shared.sources)[0]!;
    expect(bucket.l2Hits).toBe(10);
    expect(bucket.upstreamCalls).toBe(0);
  });

  it('replicas coalesce cold misses through Redis: concurrent misses on two engines make one upstream call per key', async () => {
    const a = await engine(redis.url, 2000);
    const b = await engine(redis.url, 2000);
    await Promise.all([redisReady(a), redisReady(b)]);
    upstream.reset();
    upstream.latencyMs = 100;
    try {
      const keys = [391, 392, 393, 394, 395]; // clients no other test here uses
      const rs = await Promise.all(keys.flatMap((c) => [run(a, c), run(a, c), run(b, c, 'inv_b'), run(b, c, 'inv_b')]));
      for (const r of rs) expect(r.error).toBe(false);
    } finally {
      upstream.latencyMs = 0;
    }
    expect(upstream.calls.total).toBe(5);
  });

  it('Redis paused (SIGSTOP) mid-run: no request fails, each stays bounded, and the cache recovers after SIGCONT', async () => {
    const e = await engine(redis.url);
    await redisReady(e);
    let next = 100;
    const burst = async (n: number) => {
      const t0 = Date.now();
      const rs = await Promise.all(Array.from({ length: n }, () => run(e, ++next)));
      return { rs, ms: Date.now() - t0 };
    };
    expect((await burst(5)).rs.every((r) => !r.error)).toBe(true);
    redis.pause();
    try {
      for (let i = 0; i < 5; i++) {
        const { rs, ms } = await burst(10);
        expect(rs.every((r) => !r.error && r.items.length === 2)).toBe(true);
        expect(ms).toBeLessThan(1000);
      }
      const st = e.remote.stats().shared.redis!;
      expect(st.timeouts + st.skipped).toBeGreaterThan(0);
    } finally {
      redis.resume();
    }
    // Back: within the breaker's longest open period plus a probe, Redis serves again.
    const t0 = Date.now();
    while (Date.now() - t0 < 4000 && e.remote.stats().shared.redis!.breaker !== 'closed') {
      await burst(2);
      await sleep(100);
    }
    expect(e.remote.stats().shared.redis!.breaker).toBe('closed');
  });

  it('Redis stopped mid-run: no request fails; the upstream answers every miss', async () => {
    const e = await engine(redis.url);
    await redisReady(e);
    upstream.reset();
    let next = 250;
    const errors: unknown[] = [];
    let done = 0;
    const loop = (async () => {
      for (let i = 0; i < 60; i++) {
        const r = await run(e, ++next).catch((err: unknown) => ({ error: true, reason: String(err), items: [] }));
        if (r.error || r.items.length !== 2) errors.push(r);
        done++;
        await sleep(5);
      }
    })();
    await sleep(60);
    await redis.kill();
    await loop;
    expect(errors).toEqual([]);
    expect(done).toBe(60);
    expect(upstream.calls.total).toBe(60);
    expect(e.remote.stats().shared.redis!.connection).not.toBe('ready');
  });
});
