/**
 * Issue 6, Dependencies: Redis killed mid-run (SIGKILL, connections dropped; not paused) behind a
 * `RedisSource` pipeline on a serving engine: no 5xx while it is gone (each client's stale copy
 * answers; a client with none gets `error: true` naming the step), and fresh data within 5 s of
 * Redis coming back on its port. The pause case is test/issue-redis-pause-bulkhead.test.ts; the
 * remote-source cache's own kill is engine/cache/redis-cache.test.ts.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';
import { redisOrSkip, startRedis, type RedisServer } from './redis-server.js';

const RUN = redisOrSkip();
const CLIENTS = 20;

let srv: RunningServer;
let redis: RedisServer;

type Answer = { status: number; json: Record<string, unknown> };

async function post(body: object): Promise<Answer> {
  const res = await request(`${srv.url}/pipelines/recs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

const skus = (a: Answer): unknown[] => ((a.json['items'] as Record<string, unknown>[] | undefined) ?? []).map((i) => i['sku_id']);

async function fill(url: string, offset: number): Promise<void> {
  const w = new Redis(url);
  try {
    for (let c = 1; c <= CLIENTS; c++) {
      await w.del(`recs:${c}`);
      await w.rpush(`recs:${c}`, String(c * 10 + offset), String(c * 10 + offset + 1));
    }
  } finally {
    w.disconnect();
  }
}

describe.skipIf(!RUN)('Redis killed mid-run behind a RedisSource', () => {
  beforeAll(async () => {
    redis = await startRedis();
    await fill(redis.url, 0);
    const dir = await tempDir('airmail-redis-killed-');
    await writeFile(join(dir, 'p.yaml'), `
pipelines:
- name: recs
  item_type: sku_id
  inputs: {client_id: {type: integer}}
  initialization:
    includes: [{name: RedisSource, parameters: {url: '${redis.url}', key: 'recs:{client_id}', type: list, vars: {client_id: $client_id}, ttl_ms: 100, stale_if_error_ms: 600000}}]
`);
    srv = await server({ configs: dir, threads: 2, inlineUnderMs: 0, watch: false });
    expect(srv.startErrors).toEqual([]);
  });

  afterAll(async () => {
    await srv?.close();
    await redis?.stop();
  });

  it('no 5xx while it is gone (stale copies, error: true naming the step where none), fresh data within 5 s of its return', async () => {
    for (let c = 1; c <= CLIENTS; c++) expect(skus(await post({ client_id: c }))).toEqual([c * 10, c * 10 + 1]);

    await redis.kill();
    // Open loop for 2 s, a request every 10 ms, each client's TTL long passed.
    const sent: Promise<[number, Answer, number]>[] = [];
    let n = 0;
    const timer = setInterval(() => {
      const c = (n++ % CLIENTS) + 1;
      const t0 = Date.now();
      sent.push(post({ client_id: c }).then((r) => [c, r, Date.now() - t0]));
    }, 10);
    await new Promise((r) => setTimeout(r, 2000));
    clearInterval(timer);
    const answers = await Promise.all(sent);
    expect(answers.length).toBeGreaterThan(100);
    expect(answers.filter(([, r]) => r.status !== 200).map(([c, r]) => `client ${c}: ${r.status} ${String(r.json['reason'])}`)).toEqual([]);
    for (const [c, r] of answers) {
      expect(r.json['error']).not.toBe(true);
      expect(skus(r)).toEqual([c * 10, c * 10 + 1]);
    }
    // Bounded: a request waits at most about the source's timeouts and retries (100 ms, 3 attempts).
    expect(Math.max(...answers.map(([, , ms]) => ms))).toBeLessThan(1000);

    // A client with no stale copy: a 200 with error: true, SOURCE_FAILED, naming the step.
    const none = await post({ client_id: 999 });
    expect(none.status).toBe(200);
    expect(none.json).toMatchObject({ error: true, code: 'SOURCE_FAILED', operator: 'RedisSource' });

    // Back on its port, empty (no persistence), with new data: served fresh within 5 s.
    redis = await startRedis({ port: redis.port });
    await fill(redis.url, 5);
    const back = Date.now();
    let fresh = false;
    while (!fresh && Date.now() - back < 5000) {
      const r = await post({ client_id: 1 });
      expect(r.status).toBe(200);
      fresh = JSON.stringify(skus(r)) === '[15,16]';
      if (!fresh) await new Promise((res) => setTimeout(res, 25));
    }
    expect(fresh, 'fresh data within 5 s of Redis coming back').toBe(true);
    expect(skus(await post({ client_id: 999 }))).toEqual([]);
  }, 30_000);
});
