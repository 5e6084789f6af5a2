/**
 * Redis blackholed (paused, not refused): no 5xx, for a Redis-backed pipeline too, on a busy server.
 *
 * A `RedisSource` fetch against a paused Redis waited its command timeout on every attempt (100 ms,
 * three attempts with backoff: ~375 ms by default) before its stale copy answered, and held its
 * worker all that time. So the pipeline's runs counted as waiting on remote sources, the automatic
 * bulkhead share (half the workers, engine/bulkhead.ts) applied while another pipeline ran, and its
 * requests beyond that share were refused with 503 OVERLOADED: one CI chaos run lost 4 requests
 * that way. Now each Redis client has a circuit breaker (engine/cache/breaker.ts): once a command
 * times out, fetches fail at once and the stale copy answers without waiting, until a probe finds
 * Redis back (at most 2 s later). A request waits at most about one command timeout.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { metricValue, server, tempDir, until } from './helpers.js';
import { redisOrSkip, startRedis, type RedisServer } from './redis-server.js';

const RUN = redisOrSkip();
const CLIENTS = 40;

let srv: RunningServer;
let redis: RedisServer;
let writer: Redis;

type Answer = { status: number; json: Record<string, unknown> };

async function post(name: string, body: object): Promise<Answer> {
  const res = await request(`${srv.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

const skus = (a: Answer): unknown[] => ((a.json['items'] as Record<string, unknown>[] | undefined) ?? []).map((i) => i['sku_id']);

const metric = (series: string): Promise<number> => metricValue(srv.url, series);

describe.skipIf(!RUN)('a paused Redis behind a RedisSource', () => {
  beforeAll(async () => {
    redis = await startRedis();
    writer = new Redis(redis.url);
    for (let c = 1; c <= CLIENTS; c++) await writer.rpush(`recs:${c}`, String(c * 10), String(c * 10 + 1));
    const dir = await tempDir('airmail-redis-pause-');
    await writeFile(join(dir, 'catalog.json'), JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ sku_id: i, dept: i % 10 }))));
    // The RedisSource as a user writes it: default timeout and retries, a short TTL, stale on error.
    // No max_workers: the automatic share applies.
    await writeFile(join(dir, 'p.yaml'), `
datasets:
  catalog: {path: catalog.json, key: sku_id}
pipelines:
- name: recs
  item_type: sku_id
  inputs: {client_id: {type: integer}}
  initialization:
    includes: [{name: RedisSource, parameters: {url: '${redis.url}', key: 'recs:{client_id}', type: list, vars: {client_id: $client_id}, ttl_ms: 200, stale_if_error_ms: 600000}}]
- name: fast
  item_type: sku_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: catalog, where: {dept: $dept}}}]
  operations: [{name: Limit, parameters: {n: 5}}]
`);
    // inlineUnderMs 0: both pipelines run on the two workers, as the busy server of the CI run did.
    srv = await server({ configs: dir, threads: 2, inlineUnderMs: 0, watch: false });
    expect(srv.startErrors).toEqual([]);
  });

  afterAll(async () => {
    redis?.resume();
    writer?.disconnect();
    await srv?.close();
    await redis?.stop();
  });

  it('serves every request (stale) while Redis is paused beside a busy pipeline, and fresh data soon after it returns', async () => {
    // Every client's list cached once (the stale copy a paused Redis leaves).
    for (let c = 1; c <= CLIENTS; c++) expect(skus(await post('recs', { client_id: c }))).toEqual([c * 10, c * 10 + 1]);

    redis.pause();
    // Open loop for 3 s: a Redis-backed request every 20 ms (each client's TTL long passed), a fast one every 10 ms.
    const recs: Promise<[number, Answer]>[] = [];
    const fast: Promise<Answer>[] = [];
    let n = 0;
    const a = setInterval(() => {
      const c = (n++ % CLIENTS) + 1;
      recs.push(post('recs', { client_id: c }).then((r) => [c, r]));
    }, 20);
    const b = setInterval(() => fast.push(post('fast', { dept: n % 10 })), 10);
    await new Promise((r) => setTimeout(r, 3000));
    clearInterval(a);
    clearInterval(b);
    const paused = await Promise.all(recs);
    const fastAnswers = await Promise.all(fast);

    const failed = paused.filter(([, r]) => r.status !== 200).map(([c, r]) => `client ${c}: ${r.status} ${String(r.json['reason'])}`);
    expect(failed).toEqual([]); // without the breaker: 503s from the bulkhead share
    expect(paused.length).toBeGreaterThan(100);
    // Each answer is the client's own list, served stale (no request an error).
    for (const [c, r] of paused) {
      expect(r.json['error']).not.toBe(true);
      expect(skus(r)).toEqual([c * 10, c * 10 + 1]);
    }
    expect(fastAnswers.every((r) => r.status === 200)).toBe(true);
    expect(await metric(`airmail_source_breaker_opened_total{kind="redis",origin="redis://127.0.0.1:${redis.port}"}`)).toBeGreaterThanOrEqual(1);
    expect(await metric(`airmail_source_breaker_skipped_total{kind="redis",origin="redis://127.0.0.1:${redis.port}"}`)).toBeGreaterThan(0);

    // Redis back with new data: a request sees it within 5 s (the breaker's probe, at most 2 s later).
    redis.resume();
    await writer.del('recs:1');
    await writer.rpush('recs:1', '7', '8');
    await until(async () => JSON.stringify(skus(await post('recs', { client_id: 1 }))) === '[7,8]', 'fresh data after Redis came back', 5000);
  }, 30_000);

  it('a Redis source without a stale copy fails at once while the breaker is open, saying Redis is not answering', async () => {
    redis.pause();
    try {
      // A client never fetched: nothing stale. The first ones wait their timeouts and open the breaker.
      let last: Answer | undefined;
      for (let c = 1000; c < 1010; c++) {
        last = await post('recs', { client_id: c });
        expect(last.status).toBe(200);
        expect(last.json['error']).toBe(true);
        expect(last.json['code']).toBe('SOURCE_FAILED');
      }
      expect(String(last!.json['reason'])).toMatch(/Redis is not answering \(no answer within 100 ms\); it is not asked again for \d+ ms/);
    } finally {
      redis.resume();
    }
  }, 30_000);
});
