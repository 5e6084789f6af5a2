/**
 * The remote-source cache key joined its parts with ':', so a Redis key that holds ':' spelt
 * another read's key: a `list` source reading the key named by the request (`'{k}'`, k =
 * `first5:k`) and a `limit: 5` source reading `k` were one cache entry, and a request input chose
 * which answer the other got. The same for an HTTP URL ending in `:lock` and another URL's Redis
 * lock key. Keys are now one JSON array of their parts.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine/engine.js';
import { remoteKey } from '../engine/remote/key.js';
import { builtinOperators } from '../operators/index.js';
import { OPERATORS_URL, tempDir } from './helpers.js';
import { redisOrSkip, startRedis, type RedisServer } from './redis-server.js';

const RUN = redisOrSkip();

describe('remote cache keys', () => {
  it('parts holding the separator never spell another request', () => {
    const keys = [
      remoteKey({ kind: 'redis', key: 'first5:k', type: 'list' }),
      remoteKey({ kind: 'redis', key: 'k', type: 'list', limit: 5 }),
      remoteKey({ kind: 'redis', key: 'desc:k', type: 'zset' }),
      remoteKey({ kind: 'redis', key: 'k', type: 'zset', order: 'desc' }),
      remoteKey({ kind: 'redis', key: 'list:k', type: 'set' }),
      remoteKey({ kind: 'redis', key: 'k', type: 'set', url: 'redis://h:1/0' }),
      remoteKey({ kind: 'redis', key: 'h:1/0:set:k', type: 'set' }),
      remoteKey({ kind: 'http', url: 'http://h/a:lock' }),
      `${remoteKey({ kind: 'http', url: 'http://h/a' })}:lock`,
      remoteKey({ kind: 'http', url: 'http://h/x', path: 'a' }),
      remoteKey({ kind: 'http', url: 'http://h/x', path: 'a:http://h/x' }),
      remoteKey({ kind: 'http', url: 'http://h/x', format: 'json' }),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe.skipIf(!RUN)('a Redis key holding ":" beside a first-N read', () => {
  let redis: RedisServer;
  let engine: Engine;
  beforeAll(async () => {
    redis = await startRedis();
    const raw = new Redis(redis.url);
    await raw.rpush('k', '1', '2', '3', '4', '5', '6');
    await raw.rpush('first5:k', '6');
    raw.disconnect();
    const dir = await tempDir('airmail-remote-key-');
    await mkdir(join(dir, 'data'));
    await writeFile(join(dir, 'data/items.json'), JSON.stringify([1, 2, 3, 4, 5, 6].map((id) => ({ id }))));
    await writeFile(join(dir, 'p.yaml'), `
datasets: {items: {path: data/items.json, key: id}}
operators:
  Named: {use: RedisSource, parameters: {key: '{k}', vars: {k: $k}, type: list, url: '${redis.url}'}}
  Head: {use: RedisSource, parameters: {key: k, type: list, limit: 5, url: '${redis.url}'}}
pipelines:
- {name: named, item_type: id, items: items, initialization: {includes: [Named]}}
- {name: head, item_type: id, items: items, initialization: {includes: [Head]}}
`);
    engine = new Engine({ configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads: 0, watch: false });
    expect(await engine.start()).toEqual([]);
  });
  afterAll(async () => {
    await engine?.close();
    await redis?.stop();
  });

  it('each read answers its own key, in either order', async () => {
    const ids = async (p: string, inputs: Record<string, unknown> = {}) => (await engine.run(engine.pipeline(p), inputs)).items.map((r) => r['id']);
    expect(await ids('head')).toEqual([1, 2, 3, 4, 5]);
    expect(await ids('named', { k: 'first5:k' })).toEqual([6]);
    expect(await ids('named', { k: 'k' })).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await ids('head')).toEqual([1, 2, 3, 4, 5]);
  });
});
