/**
 * `columns:` of HttpSource and RedisSource (the README: "a sorted set of ids (column `value`, plus
 * `score`)", a hash's `value`) took the columns of the answer into the frame, but the operators
 * did not declare them, so any later step or `return` naming one was refused at load with
 * UNKNOWN_COLUMN: the parameter could not be used at all. And a sorted-set score of `inf` / `-inf`
 * (how Redis spells ±infinity) was read with Number() as NaN, so it sorted as a missing value.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine/engine.js';
import { json, startUpstream, type Upstream } from '../engine/remote/upstream-fixture.js';
import { builtinOperators } from '../operators/index.js';
import { redisOrSkip, startRedis, type RedisServer } from './redis-server.js';
import { OPERATORS_URL, tempDir } from './helpers.js';

const RUN = redisOrSkip();
let redis: RedisServer | undefined;
let upstream: Upstream | undefined;
let raw: Redis | undefined;
let e: Engine | undefined;

beforeAll(async () => {
  if (!RUN) return;
  redis = await startRedis();
  raw = new Redis(redis.url);
  await raw.zadd('z', '5', '1', '2.5', '2', 'inf', '3', '-inf', '4');
  await raw.hset('h', { '7': '70', '8': '80' });
  upstream = await startUpstream({ handler: () => json([{ sku_id: 1, qty: 3 }, { sku_id: 2, qty: 9 }]) });
  const dir = await tempDir('airmail-source-columns-');
  await writeFile(join(dir, 'p.yaml'), `
operators:
  Ranked: {use: RedisSource, parameters: {key: z, type: zset, columns: [score]}}
  Priced: {use: RedisSource, parameters: {key: h, type: hash, column: field, columns: [value]}}
  Stock:  {use: HttpSource, parameters: {url: '${upstream.url}/inv', column: sku_id, columns: [qty]}}
pipelines:
- {name: ranked, item_type: sku_id, initialization: {includes: [Ranked]}, operations: [{name: Sort, parameters: {by: score, desc: true}}], return: [sku_id]}
- {name: priced, item_type: sku_id, initialization: {includes: [Priced]}, operations: [{name: Sort, parameters: {by: value, desc: true}}], return: [sku_id, value]}
- {name: stock, item_type: sku_id, initialization: {includes: [Stock]}, operations: [{name: Range, parameters: {column: qty, min: 5}}], return: [sku_id, qty]}
`);
  e = new Engine({ configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads: 0, watch: false, remote: { redisUrl: redis.url } });
});
afterAll(async () => {
  await e?.close();
  await upstream?.close();
  raw?.disconnect();
  await redis?.stop();
});

describe.skipIf(!RUN)('columns a remote source takes from its answer', () => {
  it('load, and later steps and return can name them', async () => {
    expect(await e!.start()).toEqual([]);
    expect((await e!.run(e!.pipeline('priced'), {})).items).toEqual([{ sku_id: 8, value: 80 }, { sku_id: 7, value: 70 }]);
    expect((await e!.run(e!.pipeline('stock'), {})).items).toEqual([{ sku_id: 2, qty: 9 }]);
  });

  it('a sorted-set score of inf / -inf sorts as ±infinity', async () => {
    expect((await e!.run(e!.pipeline('ranked'), {})).items).toEqual([{ sku_id: 3 }, { sku_id: 1 }, { sku_id: 2 }, { sku_id: 4 }]);
  });
});
