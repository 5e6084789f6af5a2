/**
 * A request that was slow because it waited for a worker says so. Found on call: 30 requests at once
 * to a pipeline whose upstream answers in 280 ms took up to 4.5 s, while every step's time in
 * /metrics and the debug log read 0.28 s; only a trace (the gap before its `execute` span) showed
 * the 4.2 s spent waiting for one of the two workers. The request's log line now carries `queue_ms`
 * and /metrics `airmail_request_queue_seconds{pipeline}`: the time from asking for a worker until
 * the run started there.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { Logger } from '../engine/observe/logs.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import type { RunningServer } from '../engine/server.js';
import { metricValue, server, tempDir } from './helpers.js';

const UPSTREAM_MS = 300;
let srv: RunningServer;
let upstream: Server;
let dir: string;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const user = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('user'));
    setTimeout(() => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify([{ sku_id: user * 10 + 1 }, { sku_id: user * 10 + 2 }]));
    }, UPSTREAM_MS);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  dir = await tempDir('airmail-queue-wait-');
  await writeFile(join(dir, 'p.yaml'), `
pipelines:
- name: recs
  item_type: sku_id
  inputs: {user: {type: integer}}
  initialization:
    includes: [{name: HttpSource, parameters: {url: 'http://127.0.0.1:${port}/recs?user={user}', vars: {user: $user}, column: sku_id, timeout_ms: 2000, retries: 0}}]
`);
  const logger = new Logger({ level: 'info', sink: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) }, pretty: false });
  srv = await server({ configs: dir, threads: 1, watch: false, observe: new Observability({ logger, metrics: new EngineMetrics() }) });
  expect(srv.startErrors).toEqual([]);
});

afterAll(async () => {
  await srv?.close();
  await new Promise((r) => upstream?.close(r));
  if (dir) await rm(dir, { recursive: true, force: true });
});

const post = (user: number, headers: Record<string, string> = {}): Promise<number> =>
  request(`${srv.url}/pipelines/recs`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': `u${user}`, ...headers }, body: JSON.stringify({ user }) }).then(async (r) => {
    await r.body.dump();
    return r.statusCode;
  });
const lineOf = (id: string): Record<string, unknown> | undefined => lines.find((l) => l['request_id'] === id && l['pipeline'] === 'recs');

it("logs each request's wait for a worker as queue_ms, and counts it in airmail_request_queue_seconds", async () => {
  // The first run of a pipeline waits for its worker to load it: warm it up first.
  expect(await post(9)).toBe(200);
  // One worker, three requests at once: each run holds it about UPSTREAM_MS, so the last waits about two runs.
  expect(await Promise.all([post(1), post(2), post(3)])).toEqual([200, 200, 200]);
  const waits = [1, 2, 3].map((u) => lineOf(`u${u}`));
  for (const l of waits) {
    expect(typeof l?.['queue_ms']).toBe('number');
    expect(l!['queue_ms'] as number).toBeLessThanOrEqual(l!['ms'] as number);
  }
  const sorted = waits.map((l) => l!['queue_ms'] as number).sort((a, b) => a - b);
  expect(sorted[0]).toBeLessThan(100);
  expect(sorted[2]).toBeGreaterThanOrEqual(1.5 * UPSTREAM_MS);
  expect(await metricValue(srv.url, 'airmail_request_queue_seconds_count{pipeline="recs"}')).toBe(4);
  expect(await metricValue(srv.url, 'airmail_request_queue_seconds_sum{pipeline="recs"}')).toBeGreaterThanOrEqual((sorted[0]! + sorted[1]! + sorted[2]!) / 1000);
});

it('a run that failed in its worker (a 504 past its deadline) has its queue_ms too', async () => {
  expect(await post(4, { 'x-airmail-deadline-ms': '100' })).toBe(504);
  const l = lineOf('u4');
  expect(l).toMatchObject({ status: 504, code: 'DEADLINE_EXCEEDED' });
  expect(typeof l!['queue_ms']).toBe('number');
  expect(await metricValue(srv.url, 'airmail_request_queue_seconds_count{pipeline="recs"}')).toBe(5);
});
