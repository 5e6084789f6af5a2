import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteBroker } from '../../engine/remote/broker.js';
import { inlineRemote } from '../../engine/remote/client.js';
import { testContext } from '../../engine/testing.js';
import { redisOrSkip, startRedis, type RedisServer } from '../../test/redis-server.js';
import { runContract } from '../contract.js';
import { redisSource, type RedisSourceParams } from './redis.js';

const RUN = redisOrSkip();
const server: RedisServer | undefined = RUN ? await startRedis() : undefined;
const broker = new RemoteBroker(server ? { redisUrl: server.url } : {});
const ctx = () => testContext({ itemType: 'sku_id', remote: inlineRemote(broker) });
let raw: Redis | undefined;

beforeAll(async () => {
  if (!server) return;
  raw = new Redis(server.url);
  await raw.sadd('inv:1', '7', '1', '5');
  await raw.rpush('recent:17', '9', '3', '9');
  await raw.zadd('recs:17', '0.5', '4', '0.9', '2', '0.1', '8');
  await raw.hset('prices', { '1': '10.5', '2': '3' });
  await raw.set('rows', JSON.stringify([{ sku_id: 3, w: 1 }, { sku_id: 6, w: 2 }]));
  await raw.set('blob', Buffer.from(tableToIPC(tableFromArrays({ sku_id: Int32Array.from([11, 12]) }), 'stream')));
  await raw.set('not-a-set', 'x');
});
afterAll(async () => {
  raw?.disconnect();
  await broker.close();
  await server?.stop();
});

if (RUN) {
  runContract(redisSource, {
    file: import.meta.url,
    ctx: ctx(),
    valid: [
      { key: 'inv:{w}', type: 'set', vars: { w: 1 } },
      { key: 'recent:17', type: 'list', limit: 2, max_items: 10 },
      { key: 'recs:17', type: 'zset', limit: 2, order: 'desc' },
      { key: 'rows', type: 'json', max_bytes: 1000 },
      { key: 'recs:17', type: 'zset', columns: ['score'], ttl_ms: 100, timeout_ms: 50, retries: 0 },
      { key: 'prices', type: 'hash', column: 'field', columns: ['value'] },
      { key: 'rows', type: 'json', where: { w: 2 } },
      { key: 'blob', type: 'arrow' },
      { key: 'absent', type: 'set' },
    ],
    invalid: [{}, { key: 'k' }, { key: 'k', type: 'stream' }, { key: '', type: 'set' }, { key: 'k', type: 'set', url: 'http://x' }, { key: 'k', type: 'list', limit: 0 }, { key: 'k', type: 'zset', order: 'up' }],
    problems: [
      { params: { key: 'inv:{w}', type: 'set' }, path: '/key', code: 'BAD_PARAMETER' },
      { params: { key: 'inv', type: 'set', vars: { w: 1 } }, path: '/vars/w', code: 'BAD_PARAMETER' },
      // Bounds that cannot apply to the type are refused at load, not ignored.
      { params: { key: 'inv', type: 'set', limit: 5 }, path: '/limit', code: 'BAD_PARAMETER' },
      { params: { key: 'prices', type: 'hash', limit: 5 }, path: '/limit', code: 'BAD_PARAMETER' },
      { params: { key: 'rows', type: 'json', limit: 5 }, path: '/limit', code: 'BAD_PARAMETER' },
      { params: { key: 'recs', type: 'zset', limit: 5 }, path: '/limit', code: 'BAD_PARAMETER' },
      { params: { key: 'recent', type: 'list', order: 'desc' }, path: '/order', code: 'BAD_PARAMETER' },
      { params: { key: 'inv', type: 'set', max_bytes: 10 }, path: '/max_bytes', code: 'BAD_PARAMETER' },
      { params: { key: 'rows', type: 'json', max_items: 10 }, path: '/max_items', code: 'BAD_PARAMETER' },
    ],
    errors: [
      { params: { key: 'not-a-set', type: 'set', retries: 0 }, code: 'SOURCE_FAILED' },
      { params: { key: 'k', type: 'set', url: 'redis://127.0.0.1:1', retries: 1, timeout_ms: 50 }, code: 'SOURCE_FAILED' },
    ],
  });
}

describe.skipIf(!RUN)('RedisSource', () => {
  const run = (p: RedisSourceParams) => redisSource.run(p, ctx());

  it('reads sets, lists, sorted sets (by rank), hashes, JSON rows and Arrow blobs', async () => {
    expect(Array.from((await run({ key: 'inv:{w}', type: 'set', vars: { w: 1 } })).ids).sort()).toEqual([1, 5, 7]);
    expect(Array.from((await run({ key: 'recent:17', type: 'list' })).ids)).toEqual([9, 3, 9]);
    const z = await run({ key: 'recs:17', type: 'zset', columns: ['score'] });
    expect(Array.from(z.ids)).toEqual([8, 4, 2]);
    expect(Array.from(z.columns!['score'] as Float64Array)).toEqual([0.1, 0.5, 0.9]);
    const h = await run({ key: 'prices', type: 'hash', column: 'field', columns: ['value'] });
    expect(Array.from(h.ids)).toEqual([1, 2]);
    expect(Array.from(h.columns!['value'] as Float64Array)).toEqual([10.5, 3]);
    expect(Array.from((await run({ key: 'rows', type: 'json', where: { w: 2 } })).ids)).toEqual([6]);
    expect(Array.from((await run({ key: 'blob', type: 'arrow' })).ids)).toEqual([11, 12]);
    expect((await run({ key: 'absent-too', type: 'set' })).ids).toHaveLength(0);
  });

  it('limit reads the first N: a list from its head, a zset from the order end; max_items fails a bigger key naming its size', async () => {
    expect(Array.from((await run({ key: 'recent:17', type: 'list', limit: 2 })).ids)).toEqual([9, 3]);
    const top = await run({ key: 'recs:17', type: 'zset', limit: 2, order: 'desc', columns: ['score'] });
    expect(Array.from(top.ids)).toEqual([2, 4]);
    expect(Array.from(top.columns!['score'] as Float64Array)).toEqual([0.9, 0.5]);
    expect(Array.from((await run({ key: 'recs:17', type: 'zset', limit: 2, order: 'asc' })).ids)).toEqual([8, 4]);
    expect(Array.from((await run({ key: 'recs:17', type: 'zset', order: 'desc' })).ids)).toEqual([2, 4, 8]);
    // The same key read whole is another cache entry than its first N.
    expect(Array.from((await run({ key: 'recent:17', type: 'list' })).ids)).toEqual([9, 3, 9]);
    // At the bound it reads; one past it fails, naming the key, its size, the bound and what to raise.
    await raw!.rpush('recent:18', '1', '2', '3');
    expect(Array.from((await run({ key: 'recent:18', type: 'list', max_items: 3, ttl_ms: 1 })).ids)).toEqual([1, 2, 3]);
    await new Promise((r) => setTimeout(r, 5));
    await expect(run({ key: 'recent:18', type: 'list', max_items: 2, ttl_ms: 1 })).rejects.toMatchObject({
      code: 'SOURCE_FAILED',
      message: "Redis list 'recent:18' failed: key 'recent:18' holds 3 members, more than max_items (2); it was not read. Raise max_items to read it all, or give limit: N to read only the first N",
    });
    await raw!.hset('prices:2', { '1': '10.5', '2': '3' });
    await expect(run({ key: 'prices:2', type: 'hash', max_items: 1, ttl_ms: 1 })).rejects.toThrow(/key 'prices:2' holds 2 fields, more than max_items \(1\); it was not read\. Raise max_items to read it all$/);
  });

  it('a Redis that refuses connections is reported as not connected, with the cause, not as slow', async () => {
    await expect(run({ key: 'k', type: 'set', url: 'redis://127.0.0.1:1', retries: 2, backoff_ms: 100, timeout_ms: 50 })).rejects.toMatchObject({
      code: 'SOURCE_FAILED',
      message: expect.stringMatching(/^Redis set 'k' failed: .*not connected to Redis \(.*ECONNREFUSED.*\)/),
    });
  });

  it('caches in process for ttl_ms: a changed key is seen only after the TTL', async () => {
    await raw!.sadd('ttl-set', '1');
    const p: RedisSourceParams = { key: 'ttl-set', type: 'set', ttl_ms: 150, jitter: 0 };
    expect(Array.from((await run(p)).ids)).toEqual([1]);
    await raw!.sadd('ttl-set', '2');
    expect(Array.from((await run(p)).ids)).toEqual([1]);
    await new Promise((r) => setTimeout(r, 200));
    expect(Array.from((await run(p)).ids).sort()).toEqual([1, 2]);
  });

  it('a paused Redis (SIGSTOP) fails the source within its bounded retries, and serves again after SIGCONT', async () => {
    const p: RedisSourceParams = { key: 'paused-set', type: 'set', ttl_ms: 1, jitter: 0, timeout_ms: 50, retries: 1, backoff_ms: 10 };
    await raw!.sadd('paused-set', '4');
    expect(Array.from((await run(p)).ids)).toEqual([4]);
    server!.pause();
    try {
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 5));
      await expect(run(p)).rejects.toMatchObject({ code: 'SOURCE_FAILED' });
      expect(Date.now() - t0).toBeLessThan(1000);
    } finally {
      server!.resume();
    }
    // The breaker (engine/cache/breaker.ts) opened on the first timeout: Redis is asked again by a
    // probe once its open period (250 ms, doubling to at most 2 s while it stays down) has passed.
    const t1 = Date.now();
    let ids: number[] | undefined;
    while (!ids && Date.now() - t1 < 3000) {
      ids = await Promise.resolve(run(p)).then((t) => Array.from(t.ids) as number[], () => undefined);
      if (!ids) await new Promise((r) => setTimeout(r, 50));
    }
    expect(ids).toEqual([4]);
  });
});
