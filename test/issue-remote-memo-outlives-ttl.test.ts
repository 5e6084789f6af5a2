/**
 * Candidates built from a remote source were memoised for the source's `ttl_ms` counted from
 * when the memo entry was made, whatever the age of the answer they were built from. So an answer
 * served stale (`stale_ms`) kept being served for a whole `ttl_ms` after its refresh had landed,
 * and an answer read from the cache near the end of its TTL (by a second pipeline, or other bound
 * values sharing the key) lived on for up to twice `ttl_ms`. The README promises "fresh for
 * `ttl_ms`, then served stale while one refresh runs". A memo entry now expires when the oldest
 * remote answer it was built from stops being fresh, and one built from a stale answer is not kept.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine/engine.js';
import { builtinOperators } from '../operators/index.js';
import { redisOrSkip, startRedis, type RedisServer } from './redis-server.js';
import { OPERATORS_URL, tempDir } from './helpers.js';

const RUN = redisOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redis: RedisServer | undefined;
let raw: Redis | undefined;
const engines: Engine[] = [];

async function engine(threads: number): Promise<Engine> {
  const e = new Engine({ configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads, watch: false, inlineUnderMs: 0, remote: { redisUrl: redis!.url } });
  expect(await e.start()).toEqual([]);
  engines.push(e);
  return e;
}
let dir: string;

beforeAll(async () => {
  if (!RUN) return;
  redis = await startRedis();
  raw = new Redis(redis.url);
  dir = await tempDir('airmail-memo-ttl-');
  await writeFile(join(dir, 'p.yaml'), `
operators:
  Stale: {use: RedisSource, parameters: {key: 's:{u}', type: set, vars: {u: $u}, ttl_ms: 400, jitter: 0, stale_ms: 60000}}
  Plain: {use: RedisSource, parameters: {key: 'p:{u}', type: set, vars: {u: $u}, ttl_ms: 400, jitter: 0}}
pipelines:
- {name: stale, item_type: value, initialization: {includes: [Stale]}}
- {name: a, item_type: value, initialization: {includes: [Plain]}}
- {name: b, item_type: value, initialization: {includes: [Plain]}}
`);
});
afterAll(async () => {
  for (const e of engines) await e.close();
  raw?.disconnect();
  await redis?.stop();
});

const ids = async (e: Engine, pipeline: string, u: string): Promise<number[]> => {
  const out = await e.run(e.pipeline(pipeline), { u });
  return ((out.items as { value: number }[]) ?? []).map((r) => r.value).sort((x, y) => x - y);
};

describe.skipIf(!RUN).each([0, 1])('memoised candidates from a remote source (threads: %i)', (threads) => {
  it('a stale answer is served once while it refreshes, and the refreshed one right after', async () => {
    const e = await engine(threads);
    const u = `st${threads}`;
    await raw!.sadd(`s:${u}`, '1');
    expect(await ids(e, 'stale', u)).toEqual([1]);
    await raw!.sadd(`s:${u}`, '2');
    await sleep(450);
    expect(await ids(e, 'stale', u)).toEqual([1]); // stale, refresh behind
    await sleep(100);
    expect(await ids(e, 'stale', u)).toEqual([1, 2]);
  });

  it('an answer read near the end of its TTL is not kept past it', async () => {
    const e = await engine(threads);
    const u = `pl${threads}`;
    await raw!.sadd(`p:${u}`, '1');
    expect(await ids(e, 'a', u)).toEqual([1]);
    await raw!.sadd(`p:${u}`, '2');
    await sleep(300);
    expect(await ids(e, 'b', u)).toEqual([1]); // still fresh (age 300 of 400 ms)
    await sleep(200);
    expect(await ids(e, 'b', u)).toEqual([1, 2]); // age 500: refetched, not a memo of the old answer
  });
});
