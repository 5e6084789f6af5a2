/**
 * A remote source's `ttl_ms` lowered in its config (the answer is too stale: 10 minutes → half a
 * second) took effect only when the answers cached under the old TTL ran out: the cache (in
 * process, in each worker's front cache, and the Redis envelope other replicas and restarts read)
 * kept each answer's deadlines as stored. An answer is now fresh only as long as the TTL it is
 * asked with allows after it was loaded, wherever it is cached.
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
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let redis: RedisServer | undefined;
let raw: Redis | undefined;
let upstream: Upstream | undefined;
let version = 1;
const engines: Engine[] = [];

beforeAll(async () => {
  if (!RUN) return;
  redis = await startRedis();
  raw = new Redis(redis.url);
  upstream = await startUpstream({ handler: () => json([{ sku_id: version }]) });
});
afterAll(async () => {
  for (const e of engines) await e.close();
  await upstream?.close();
  raw?.disconnect();
  await redis?.stop();
});

const config = (ttl: number): string => `
operators:
  Keyed: {use: RedisSource, parameters: {key: 'k:{u}', type: set, vars: {u: $u}, ttl_ms: ${ttl}, jitter: 0}}
  Served: {use: HttpSource, parameters: {url: '${upstream!.url}/inv?u={u}', vars: {u: $u}, column: sku_id, ttl_ms: ${ttl}, jitter: 0}}
pipelines:
- {name: keyed, item_type: value, initialization: {includes: [Keyed]}}
- {name: served, item_type: sku_id, initialization: {includes: [Served]}}
`;

async function engine(dir: string, threads: number): Promise<Engine> {
  const e = new Engine({ configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads, watch: false, inlineUnderMs: 0, remote: { redisUrl: redis!.url } });
  expect(await e.start()).toEqual([]);
  engines.push(e);
  return e;
}
const first = async (e: Engine, p: string, u: string): Promise<unknown> => (await e.run(e.pipeline(p), { u })).items?.map((r) => Object.values(r)[0]);

describe.skipIf(!RUN).each([0, 1])('a shortened ttl_ms (threads: %i)', (threads) => {
  it('applies to answers cached under the old one, also in Redis for a restarted engine', async () => {
    const dir = await tempDir('airmail-short-ttl-');
    await writeFile(join(dir, 'p.yaml'), config(600_000));
    const e = await engine(dir, threads);
    const u = `t${threads}`;
    version = 1;
    await raw!.sadd(`k:${u}`, '1');
    expect(await first(e, 'keyed', u)).toEqual([1]);
    expect(await first(e, 'served', u)).toEqual([1]);
    await sleep(100); // the Redis write-behind of the HTTP answer
    await raw!.del(`k:${u}`);
    await raw!.sadd(`k:${u}`, '2');
    version = 2;
    expect(await first(e, 'keyed', u)).toEqual([1]); // cached for 10 minutes
    await writeFile(join(dir, 'p.yaml'), config(300));
    expect(await e.store.rescan()).toEqual([]);
    await sleep(350);
    expect(await first(e, 'keyed', u)).toEqual([2]);
    expect(await first(e, 'served', u)).toEqual([2]);

    // A fresh engine reading the old answer's envelope from Redis under the short TTL.
    const dir2 = await tempDir('airmail-short-ttl-');
    await writeFile(join(dir2, 'p.yaml'), config(600_000));
    const u2 = `r${threads}`;
    version = 3;
    const a = await engine(dir2, threads);
    expect(await first(a, 'served', u2)).toEqual([3]);
    await sleep(400);
    version = 4;
    await writeFile(join(dir2, 'p.yaml'), config(300));
    const b = await engine(dir2, threads);
    expect(await first(b, 'served', u2)).toEqual([4]);
  });
});
