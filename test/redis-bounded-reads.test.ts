/**
 * RedisSource steps and Redis-backed datasets read a key whole (SMEMBERS, LRANGE 0 -1, ZRANGE,
 * HGETALL, GET) into the server's main thread, where the broker decodes it: a key of 2 million
 * members took 7 s of that thread and 450 MB. Reads are now bounded (max_items / max_bytes, with
 * `limit` for the first N of a list or zset) and a key over its bound fails before it is read:
 * the reply Redis sends stays small. A Redis dataset over its bound is a load error naming the
 * dataset, and on a reload the last good version keeps serving.
 */
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { Redis } from 'ioredis';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine/engine.js';
import type { RedisRequestSpec } from '../engine/api.js';
import { RedisFetcher } from '../engine/remote/redis-fetcher.js';
import { builtinOperators } from '../operators/index.js';
import { redisOrSkip, startRedis, type RedisServer } from './redis-server.js';

const RUN = redisOrSkip();
const OPERATORS_URL = new URL('../operators/index.ts', import.meta.url).href;
const BIG = 200_001; // one past a default source bound of 100,000, twice over
let redis: RedisServer | undefined;
let raw: Redis | undefined;
const fetcher = new RedisFetcher();
const engines: Engine[] = [];

/** Bytes Redis has sent to its clients so far. */
async function sentBytes(): Promise<number> {
  const info = await raw!.info('stats');
  return Number(/total_net_output_bytes:(\d+)/.exec(info)![1]);
}

beforeAll(async () => {
  if (!RUN) return;
  redis = await startRedis();
  raw = new Redis(redis.url);
  const ids = Array.from({ length: BIG }, (_, i) => String(i + 1));
  for (let i = 0; i < BIG; i += 10_000) {
    const chunk = ids.slice(i, i + 10_000);
    await raw.sadd('big:set', ...chunk);
    await raw.rpush('big:list', ...chunk);
    await raw.zadd('big:zset', ...chunk.flatMap((id) => [id, id]));
    await raw.hset('big:hash', Object.fromEntries(chunk.map((id) => [id, '1'])));
  }
  await raw.set('big:json', JSON.stringify(ids.map((id) => ({ sku_id: Number(id) }))));
  await raw.set('big:arrow', Buffer.from(tableToIPC(tableFromArrays({ sku_id: Int32Array.from({ length: 5_000_000 }, (_, i) => i) }), 'stream')));
  await raw.rpush('small:list', '5', '4', '3');
  await raw.zadd('small:zset', '1', '11', '3', '13', '2', '12');
  await raw.set('small:json', '[{"sku_id": 1}]');
  await raw.set('empty:json', '');
});
afterAll(async () => {
  for (const e of engines) await e.close();
  await fetcher.close();
  raw?.disconnect();
  await redis?.stop();
});

describe.skipIf(!RUN)('bounded Redis reads', () => {
  const fetch = (spec: Omit<RedisRequestSpec, 'kind' | 'url'>) => fetcher.fetch({ kind: 'redis', url: redis!.url, retries: 2, backoffMs: 1, timeoutMs: 5000, ...spec }, 'src');

  it('a key over the default bound fails, naming key, size, bound and parameter, before its members are sent', async () => {
    const cases: [RedisRequestSpec['type'], string, RegExp][] = [
      ['set', 'big:set', /^Redis set 'big:set' failed: key 'big:set' holds 200,001 members, more than max_items \(100,000\); it was not read\. Raise max_items to read it all$/],
      ['list', 'big:list', /key 'big:list' holds 200,001 members, more than max_items \(100,000\).*Raise max_items to read it all, or give limit: N to read only the first N$/],
      ['zset', 'big:zset', /key 'big:zset' holds 200,001 members, more than max_items \(100,000\)/],
      ['hash', 'big:hash', /key 'big:hash' holds 200,001 fields, more than max_items \(100,000\)/],
      ['arrow', 'big:arrow', /key 'big:arrow' holds [\d,]+ bytes, more than max_bytes \(16,777,216\); it was not read\. Raise max_bytes to read it$/],
    ];
    for (const [type, key, message] of cases) {
      const before = await sentBytes();
      await expect(fetch({ key, type })).rejects.toMatchObject({ code: 'SOURCE_FAILED', message: expect.stringMatching(message) });
      // A set or hash was refused on its size alone; a list, zset or string read at most one past its bound.
      const sent = (await sentBytes()) - before;
      expect(sent, `${type}: ${sent} bytes sent`).toBeLessThan(type === 'set' || type === 'hash' ? 10_000 : 17 * 1024 * 1024);
    }
  });

  it('under a raised bound the key reads whole, as before', async () => {
    expect((await fetch({ key: 'big:set', type: 'set', maxItems: BIG })).length).toBe(BIG);
    expect((await fetch({ key: 'big:json', type: 'json', maxBytes: 8 * 1024 * 1024 })).length).toBe(BIG);
    await expect(fetch({ key: 'big:json', type: 'json', maxBytes: 1000 })).rejects.toThrow(/more than max_bytes \(1,000\)/);
  });

  it('limit reads the first N of a list (head) or a zset (order end), whatever its size', async () => {
    const col = (t: Awaited<ReturnType<typeof fetch>>, c: string): unknown[] => Array.from(t.column(c) as ArrayLike<unknown>);
    expect(col(await fetch({ key: 'big:list', type: 'list', limit: 3 }), 'value')).toEqual([1, 2, 3]);
    expect(col(await fetch({ key: 'big:zset', type: 'zset', limit: 2, order: 'desc' }), 'value')).toEqual([BIG, BIG - 1]);
    expect(col(await fetch({ key: 'big:zset', type: 'zset', limit: 2, order: 'asc' }), 'score')).toEqual([1, 2]);
    expect(col(await fetch({ key: 'small:list', type: 'list' }), 'value')).toEqual([5, 4, 3]);
    expect(col(await fetch({ key: 'small:list', type: 'list', limit: 10 }), 'value')).toEqual([5, 4, 3]);
    expect(col(await fetch({ key: 'small:zset', type: 'zset' }), 'value')).toEqual([11, 12, 13]);
    expect(col(await fetch({ key: 'small:zset', type: 'zset', order: 'desc' }), 'value')).toEqual([13, 12, 11]);
    expect(col(await fetch({ key: 'small:json', type: 'json' }), 'sku_id')).toEqual([1]);
    // An absent key and an empty string both read as no rows.
    expect((await fetch({ key: 'absent', type: 'json' })).length).toBe(0);
    expect((await fetch({ key: 'empty:json', type: 'json' })).length).toBe(0);
  });

  async function engineWith(yaml: string): Promise<{ engine: Engine; dir: string; errors: Awaited<ReturnType<Engine['start']>> }> {
    const dir = await mkdtemp(join(tmpdir(), 'airmail-redis-bound-'));
    await writeFile(join(dir, 'p.yaml'), yaml);
    const engine = new Engine({ configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads: 0, watch: false, remote: { redisUrl: redis!.url } });
    const errors = await engine.start();
    engines.push(engine);
    return { engine, dir, errors };
  }

  it('a Redis dataset over its bound is a load error naming it; on reload the last good version keeps serving', async () => {
    await raw!.hset('ds:prices', { '1': '10', '2': '20' });
    const config = (comment: string): string => `# ${comment}
datasets:
  prices: {redis: {key: ds:prices, type: hash, max_items: 3}, key: field, ttl_ms: 1}
  top: {redis: {key: big:zset, type: zset, limit: 2, order: desc}}
pipeline: {name: p, item_type: field, initialization: {includes: [{name: Lookup, parameters: {dataset: prices}}]}, return: [field, value]}
`;
    const { engine, dir, errors } = await engineWith(config('v1'));
    expect(errors).toEqual([]);
    const v1 = engine.snapshot.pipelines.get('p')!.version;
    expect((await engine.run(engine.pipeline('p'), {})).items).toEqual([{ field: 1, value: 10 }, { field: 2, value: 20 }]);

    await raw!.hset('ds:prices', { '3': '30', '4': '40' });
    await new Promise((r) => setTimeout(r, 10));
    await writeFile(join(dir, 'p.yaml'), config('v2'));
    const problems = await engine.store.rescan();
    expect(problems).toContainEqual(expect.objectContaining({
      code: 'DATASET_LOAD_FAILED',
      pointer: '/datasets/prices/redis',
      message: "dataset 'prices': Redis hash 'ds:prices' failed: key 'ds:prices' holds 4 fields, more than max_items (3); it was not read. Raise max_items to read it all",
    }));
    expect(engine.snapshot.pipelines.get('p')!.version).toBe(v1);
    expect((await engine.run(engine.pipeline('p'), {})).items).toEqual([{ field: 1, value: 10 }, { field: 2, value: 20 }]);
  });

  it('limit may not exceed max_items; a pipeline sent over HTTP may set limit but not raise max_items or max_bytes', async () => {
    const { engine, errors } = await engineWith(`
operators:
  Recent: {use: RedisSource, parameters: {key: big:list, type: list}}
  Blob: {use: RedisSource, parameters: {key: small:json, type: json, column: sku_id}}
pipeline: {name: p, item_type: value, initialization: {includes: [{name: Recent, parameters: {limit: 2}}]}}
`);
    expect(errors).toEqual([]);
    const huge = await engineWith(`
operators: {Huge: {use: RedisSource, parameters: {key: big:list, type: list, limit: 100001}}}
pipeline: {name: p, item_type: value, initialization: {includes: [Huge]}}
`);
    expect(huge.errors.map((e) => [e.pointer, e.message])).toContainEqual(['/operators/Huge/parameters/limit', "preset 'Huge' (RedisSource): limit 100,001 is more than max_items (100,000, the default): raise max_items too"]);
    const adhoc = (step: unknown): Promise<unknown> => {
      const doc = { pipeline: { name: 'x', item_type: 'value', initialization: { includes: [step] } } };
      return engine.compileAdhoc(doc, JSON.stringify(doc));
    };
    await expect(adhoc({ name: 'Recent', parameters: { limit: 3 } })).resolves.toBeDefined();
    await expect(adhoc({ name: 'Recent', parameters: { max_items: 5_000_000 } })).rejects.toThrow(/\/parameters\/max_items 'Recent' \(RedisSource\): a config sent over HTTP may not set 'max_items', which bounds how much it reads; the preset in the configs directory decides that/);
    await expect(adhoc({ name: 'Blob', parameters: { max_bytes: 1e9 } })).rejects.toThrow(/may not set 'max_bytes'/);
    await expect(adhoc({ name: 'Recent', parameters: { limit: 5_000_000 } })).rejects.toThrow(/limit 5,000,000 is more than max_items/);
  });

  it('a dataset bound that cannot apply to its type is refused at load, where it is written', async () => {
    const { errors } = await engineWith(`
datasets:
  a: {redis: {key: big:set, type: set, limit: 10}}
  b: {redis: {key: big:zset, type: zset, limit: 10}}
  c: {redis: {key: small:json, type: json, max_items: 10}}
`);
    expect(errors.map((e) => [e.code, e.pointer])).toEqual(expect.arrayContaining([
      ['CONFIG_INVALID', '/datasets/a/redis/limit'],
      ['CONFIG_INVALID', '/datasets/b/redis/limit'],
      ['CONFIG_INVALID', '/datasets/c/redis/max_items'],
    ]));
    expect(errors.find((e) => e.pointer === '/datasets/a/redis/limit')!.message).toMatch(/^dataset 'a': a Redis set has no order/);
  });
});
