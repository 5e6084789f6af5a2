/**
 * The request deadline reaches remote calls: an upstream that never answers
 * and a Redis that is paused (blackholed) are abandoned when the request's
 * deadline passes — not when their own, longer, timeouts would — and the
 * answer is 504 DEADLINE_EXCEEDED, on the worker pool, within 1 s.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';
import { redisOrSkip, startRedis, type RedisServer } from './redis-server.js';

let srv: RunningServer;
let upstream: Server;
let redis: RedisServer | undefined;
const hanging = new Set<import('node:http').ServerResponse>();

beforeAll(async () => {
  upstream = createServer((_req, res) => void hanging.add(res));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  if (redisOrSkip()) redis = await startRedis();
  const dir = await demoConfigs();
  const lines = [
    'operators:',
    '  SlowRecs:',
    '    use: HttpSource',
    `    parameters: {url: 'http://127.0.0.1:${port}/recs/{client_id}?token=secret', vars: {client_id: $client_id}, timeout_ms: 30000, retries: 0}`,
    'pipelines:',
    '- name: slow_preset',
    '  item_type: sku_id',
    '  initialization: {includes: [SlowRecs]}',
    '  inputs: {client_id: {type: integer}}',
    '- name: slow_upstream',
    '  item_type: sku_id',
    `  initialization: {includes: [{name: HttpSource, parameters: {url: 'http://127.0.0.1:${port}/recs/{client_id}', vars: {client_id: $client_id}, timeout_ms: 30000, retries: 0}}]}`,
    '  inputs: {client_id: {type: integer}}',
  ];
  if (redis) {
    lines.push(
      '- name: paused_redis',
      '  item_type: sku_id',
      `  initialization: {includes: [{name: RedisSource, parameters: {url: '${redis.url}', key: 'recs:{client_id}', type: list, vars: {client_id: $client_id}, timeout_ms: 30000, retries: 0, ttl_ms: 1, stale_ms: 0, stale_if_error_ms: 0}}]}`,
      '  inputs: {client_id: {type: integer}}',
    );
  }
  await writeFile(join(dir, 'remote.yaml'), `${lines.join('\n')}\n`);
  // A long watchdog grace: what ends these requests must be the worker's own signal.
  srv = await server({ configs: dir, threads: 1, watch: false, watchdogGraceMs: 5000 });
  expect(srv.startErrors).toEqual([]);
  // Warm the worker (plan and sources loaded once per version) so the deadline measures the call.
  await timed('slow_upstream', 2000);
  await timed('slow_preset', 2000);
  if (redis) await timed('paused_redis', 2000);
});
afterAll(async () => {
  for (const res of hanging) res.destroy();
  await srv?.close();
  upstream?.close();
  await redis?.stop();
});

async function timed(name: string, deadlineMs: number): Promise<{ status: number; json: Record<string, unknown>; ms: number }> {
  const t0 = performance.now();
  const res = await request(`${srv.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-airmail-deadline-ms': String(deadlineMs) }, body: '{"client_id": 3}' });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown>, ms: performance.now() - t0 };
}

describe('deadlines reach remote calls', () => {
  it('an upstream that never answers: 504 at the request deadline, not the 30 s source timeout', async () => {
    const r = await timed('slow_upstream', 300);
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({ error: true, code: 'DEADLINE_EXCEEDED' });
    // Ended by the request's signal inside the worker, not by the watchdog stopping the worker.
    expect(r.json['reason']).toMatch(/^the request's deadline passed while waiting for HttpSource GET http:\/\/127\.0\.0\.1:\d+\/recs\/3$/);
    expect(r.ms).toBeGreaterThanOrEqual(250);
    expect(r.ms).toBeLessThan(1000);
  });

  it('a preset source: the reason names the step, then the source and its URL, redacted', async () => {
    const r = await timed('slow_preset', 300);
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({ code: 'DEADLINE_EXCEEDED', operator: 'SlowRecs' });
    expect(r.json['reason']).toMatch(/^the request's deadline passed while waiting for SlowRecs \(HttpSource GET http:\/\/127\.0\.0\.1:\d+\/recs\/3\?\*\*\*\)$/);
    expect(r.json['reason']).not.toContain('secret');
  });

  it('a paused Redis: 504 at the request deadline; after it resumes the pipeline answers again', async () => {
    if (!redis) return;
    redis.pause();
    try {
      const r = await timed('paused_redis', 300);
      expect(r.status).toBe(504);
      expect(r.json).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
      expect(r.json['reason']).toMatch(/^the request's deadline passed while waiting for RedisSource list recs:3$/);
      expect(r.ms).toBeLessThan(1000);
    } finally {
      redis.resume();
    }
    const t0 = Date.now();
    let last = 0;
    while (Date.now() - t0 < 5000) {
      last = (await timed('paused_redis', 2000)).status;
      if (last === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(last).toBe(200);
  });
});
