/**
 * A RedisSource whose key holds another Redis type failed with Redis's bare "WRONGTYPE Operation
 * against a key holding the wrong kind of value", leaving the user to find out which type the key
 * holds. The reason now names it and the `type:` that reads it (and the failure is not retried).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisFetcher } from '../engine/remote/redis-fetcher.js';
import { redisOrSkip, startRedis, type RedisServer } from './redis-server.js';

const RUN = redisOrSkip();
let redis: RedisServer | undefined;
let raw: Redis | undefined;
const fetcher = new RedisFetcher();

beforeAll(async () => {
  if (!RUN) return;
  redis = await startRedis();
  raw = new Redis(redis.url);
  await raw.rpush('recent:7', '1', '2');
  await raw.set('blob', '[1,2]');
  await raw.xadd('events', '*', 'sku', '1');
});
afterAll(async () => {
  await fetcher.close();
  raw?.disconnect();
  await redis?.stop();
});

describe.skipIf(!RUN)('a RedisSource key of another type', () => {
  it('names the type the key holds and the type: that reads it', async () => {
    const at = (key: string, type: 'set' | 'zset'): Promise<unknown> => fetcher.fetch({ kind: 'redis', key, type, url: redis!.url, retries: 2, backoffMs: 1 }, 'src');
    await expect(at('recent:7', 'set')).rejects.toThrow(/Redis set 'recent:7' failed: key 'recent:7' holds a Redis list, not what type: set reads \(give type: list\)/);
    await expect(at('blob', 'zset')).rejects.toThrow(/key 'blob' holds a Redis string, not what type: zset reads \(give type: json or arrow\)/);
    await expect(at('events', 'set')).rejects.toThrow(/key 'events' holds a Redis stream, not what type: set reads \(which no type: reads\)/);
  });
});
