/**
 * Admin config changes reach every replica over Redis pub/sub (engine/replicate.ts):
 * two engines on their own configs folders and one real redis-server. A put or
 * remove on one replica is applied by the other with the same version; two
 * concurrent changes of one pipeline end on the same version everywhere; a
 * replica that starts later applies what admins changed before it.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine/engine.js';
import { builtinOperators } from '../operators/index.js';
import { redisOrSkip, startRedis, type RedisServer } from './redis-server.js';

const RUN = redisOrSkip();
const OPERATORS_URL = new URL('../operators/index.ts', import.meta.url).href;
const BASE = 'pipeline: {name: base, item_type: item_id, initialization: {includes: [{name: Static, parameters: {items: [1, 2, 3]}}]}}\n';
const pipeline = (name: string, items: number[]): string =>
  `pipeline: {name: ${name}, item_type: item_id, initialization: {includes: [{name: Static, parameters: {items: [${items.join(', ')}]}}]}}\n`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean, limitMs = 3000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > limitMs) throw new Error('condition not met in time');
    await sleep(20);
  }
}

describe.skipIf(!RUN)('admin changes replicated over Redis', () => {
  let redis: RedisServer;
  const engines: Engine[] = [];
  let prefix = 0;
  /** A replica: its own configs folder (the baseline) and the shared Redis. */
  async function replica(channel: string): Promise<Engine> {
    const dir = await mkdtemp(join(tmpdir(), 'airmail-replica-'));
    await writeFile(join(dir, 'base.yaml'), BASE);
    const e = new Engine({
      configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads: 0, watch: false,
      replicate: { redisUrl: redis.url, channel, hashKey: `${channel}:admin` },
    });
    expect(await e.start()).toEqual([]);
    expect(e.replicator).toBeDefined();
    engines.push(e);
    return e;
  }
  const version = (e: Engine, name: string) => e.snapshot.pipelines.get(name)?.version;
  const items = async (e: Engine, name: string) => (await e.run(e.pipeline(name), {})).items.map((i) => i['item_id']);

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const e of engines) await e.close();
    await redis?.stop();
  });

  it('a put on one replica is applied by the other, at the same version; a remove too', async () => {
    const ch = `t${++prefix}`;
    const [a, b] = [await replica(ch), await replica(ch)];
    expect(await a.store.put('added', pipeline('added', [4, 5]))).toEqual([]);
    await until(() => version(b, 'added') !== undefined);
    expect(version(b, 'added')).toBe(version(a, 'added'));
    expect(await items(b, 'added')).toEqual([4, 5]);

    expect(await b.store.put('added', pipeline('added', [6]))).toEqual([]);
    await until(() => version(a, 'added') === version(b, 'added'));
    expect(await items(a, 'added')).toEqual([6]);

    expect(await a.store.remove('added')).toEqual([]);
    await until(() => !b.snapshot.pipelines.has('added'));
    expect(b.snapshot.pipelines.has('base')).toBe(true);
    expect(a.replicator!.stats().published).toBeGreaterThanOrEqual(2);
  });

  it('two replicas changed at once end on the same version (Redis order decides)', async () => {
    const ch = `t${++prefix}`;
    const [a, b] = [await replica(ch), await replica(ch)];
    for (let round = 0; round < 5; round++) {
      const [ra, rb] = await Promise.all([a.store.put('race', pipeline('race', [100 + round])), b.store.put('race', pipeline('race', [200 + round]))]);
      expect(ra).toEqual([]);
      expect(rb).toEqual([]);
      await sleep(100);
      await Promise.all([a.replicator!.idle(), b.replicator!.idle()]);
      await until(() => version(a, 'race') === version(b, 'race'));
      expect(await items(a, 'race')).toEqual(await items(b, 'race'));
    }
  });

  it('a change made while Redis is down is published once it is back, not lost (issue: replicas diverged for good)', async () => {
    const ch = `t${++prefix}`;
    const [a, b] = [await replica(ch), await replica(ch)];
    expect(await a.store.put('offline', pipeline('offline', [1]))).toEqual([]);
    await until(() => version(b, 'offline') === version(a, 'offline'));
    // Redis restarts empty (no persistence, as in deploy/); the admin change lands on a meanwhile.
    const port = redis.port;
    await redis.kill();
    expect(await a.store.put('offline', pipeline('offline', [2, 3]))).toEqual([]);
    await sleep(300);
    redis = await startRedis({ port });
    await until(() => version(b, 'offline') === version(a, 'offline'), 8000);
    expect(await items(b, 'offline')).toEqual([2, 3]);
    // and a replica that starts now gets it from the hash
    const late = await replica(ch);
    expect(await items(late, 'offline')).toEqual([2, 3]);
  });

  it('a Redis that restarted empty learns again the changes made while it was up, so a replica started afterwards has them (issue: a new replica served only its folder)', async () => {
    const ch = `t${++prefix}`;
    const a = await replica(ch);
    expect(await a.store.put('kept', pipeline('kept', [5, 6]))).toEqual([]);
    expect(await a.store.put('dropped', pipeline('dropped', [1]))).toEqual([]);
    expect(await a.store.remove('dropped')).toEqual([]);
    await a.replicator!.idle();
    const port = redis.port;
    await redis.kill();
    redis = await startRedis({ port });
    // A pod that starts now has only the baseline folder: everything it learns comes from Redis.
    const late = await replica(ch);
    await until(() => late.snapshot.pipelines.has('kept'), 8000);
    expect(version(late, 'kept')).toBe(version(a, 'kept'));
    expect(await items(late, 'kept')).toEqual([5, 6]);
    expect(late.snapshot.pipelines.has('dropped')).toBe(false);
  });

  it('a change made while Redis is paused is published when it answers, and the hash does not revert it', async () => {
    const ch = `t${++prefix}`;
    const [a, b] = [await replica(ch), await replica(ch)];
    expect(await a.store.put('paused', pipeline('paused', [1]))).toEqual([]);
    await until(() => version(b, 'paused') === version(a, 'paused'));
    const before = version(a, 'paused');
    redis.pause();
    try {
      expect(await a.store.put('paused', pipeline('paused', [4]))).toEqual([]);
      await sleep(2500); // past the publisher's command timeout
    } finally {
      redis.resume();
    }
    await until(() => version(b, 'paused') === version(a, 'paused') && version(a, 'paused') !== before, 8000);
    expect(await items(a, 'paused')).toEqual([4]);
    expect(await items(b, 'paused')).toEqual([4]);
  });

  it('a replica that starts later applies what admins changed (and removed) before it', async () => {
    const ch = `t${++prefix}`;
    const a = await replica(ch);
    expect(await a.store.put('early', pipeline('early', [7, 8, 9]))).toEqual([]);
    expect(await a.store.put('gone', pipeline('gone', [1]))).toEqual([]);
    expect(await a.store.remove('gone')).toEqual([]);
    await sleep(50);
    const late = await replica(ch);
    expect(version(late, 'early')).toBe(version(a, 'early'));
    expect(late.snapshot.pipelines.has('gone')).toBe(false);
    expect(await items(late, 'early')).toEqual([7, 8, 9]);
  });
});
