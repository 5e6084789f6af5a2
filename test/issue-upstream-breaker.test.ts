/**
 * An upstream that stops answering costs each request at most its first attempts, not every
 * request its timeout and retries. Before: an `HttpSource` whose upstream hung made every request
 * (every key: one flight per URL) wait `timeout_ms` three times before its stale copy or
 * `error: true` answered, and kept sending the hung upstream three requests per request. Now each
 * origin has a circuit breaker (engine/remote/http-fetcher.ts, engine/cache/breaker.ts): after 5
 * attempts in a row fail to reach it (or get 502/503/504), fetches fail at once until a probe finds
 * it back.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { metricValue, server, tempDir, until } from './helpers.js';

let srv: RunningServer;
let upstream: Server;
let mode: 'ok' | 'hang' | '503' | '500' = 'ok';
let seen = 0;
let items = [1, 2];
/** The breaker metrics' `origin` label of the upstream. */
let origin: string;
const hung = new Set<ServerResponse>();

beforeAll(async () => {
  upstream = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen++;
    if (mode === 'hang') return void hung.add(res);
    if (mode === '503' || mode === '500') {
      res.statusCode = Number(mode);
      return void res.end('unwell');
    }
    res.setHeader('content-type', 'application/json');
    const user = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('user'));
    res.end(JSON.stringify(items.map((i) => ({ sku_id: user * 100 + i }))));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  const dir = await tempDir('airmail-upstream-breaker-');
  await writeFile(join(dir, 'p.yaml'), `
pipelines:
- name: recs
  item_type: sku_id
  inputs: {user: {type: integer}}
  initialization:
    includes: [{name: HttpSource, parameters: {url: 'http://127.0.0.1:${port}/recs?user={user}', vars: {user: $user}, column: sku_id, ttl_ms: 1, stale_if_error_ms: 600000, timeout_ms: 150, retries: 2, backoff_ms: 10}}]
`);
  srv = await server({ configs: dir, threads: 1, watch: false });
  expect(srv.startErrors).toEqual([]);
});

afterAll(async () => {
  for (const res of hung) res.destroy();
  await srv?.close();
  await new Promise((r) => upstream?.close(r));
});

type Answer = { status: number; json: Record<string, unknown> };
async function post(user: number): Promise<Answer> {
  const res = await request(`${srv.url}/pipelines/recs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }) });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}
const skus = (a: Answer): unknown[] => ((a.json['items'] as Record<string, unknown>[] | undefined) ?? []).map((i) => i['sku_id']);

const metric = (series: string): Promise<number> => metricValue(srv.url, series);

it('a hung upstream: after 5 failed attempts the next requests answer stale at once, the upstream is not called, and fresh data returns once it answers', async () => {
  for (let u = 1; u <= 10; u++) expect(skus(await post(u))).toEqual([u * 100 + 1, u * 100 + 2]);
  mode = 'hang';
  seen = 0;
  // Two requests: 3 attempts each would be 6; the breaker opens at the 5th, and the 6th is not sent.
  expect(skus(await post(1))).toEqual([101, 102]);
  expect(skus(await post(2))).toEqual([201, 202]);
  expect(seen).toBe(5);
  // Open: these are answered from their stale copies without asking the upstream (at most a probe does).
  const before = seen;
  for (let u = 3; u <= 10; u++) expect(skus(await post(u))).toEqual([u * 100 + 1, u * 100 + 2]);
  expect(seen - before).toBeLessThanOrEqual(1);
  expect(await metric(`airmail_source_breaker_opened_total{kind="http",origin="${origin}"}`)).toBe(1);
  expect(await metric(`airmail_source_breaker_skipped_total{kind="http",origin="${origin}"}`)).toBeGreaterThanOrEqual(7);

  // A user never fetched has no stale copy: error: true naming the step and why the upstream was not asked.
  const none = await post(99);
  expect(none.status).toBe(200);
  expect(none.json['error']).toBe(true);
  expect(none.json['code']).toBe('SOURCE_FAILED');
  expect(String(none.json['reason'])).toMatch(/http:\/\/127\.0\.0\.1:\d+ is not answering \(5 attempts in a row failed, the last: no answer within 150 ms\); it is not asked again for \d+ ms/);

  // Back: a probe (at most 2 s later) finds it, and fresh data is served.
  mode = 'ok';
  items = [7, 8];
  await until(async () => JSON.stringify(skus(await post(1))) === '[107,108]', 'fresh data after the upstream came back', 5000);
}, 30_000);

it('502/503/504 count against the origin, a 500 about one request does not', async () => {
  items = [1, 2];
  for (let u = 20; u <= 23; u++) expect(skus(await post(u))).toEqual([u * 100 + 1, u * 100 + 2]);
  const opened = await metric(`airmail_source_breaker_opened_total{kind="http",origin="${origin}"}`);
  mode = '500';
  // 3 attempts per request, 9 in a row: a 500 is the upstream's answer about one request, not an outage.
  for (let u = 20; u <= 22; u++) await post(u);
  expect(await metric(`airmail_source_breaker_opened_total{kind="http",origin="${origin}"}`)).toBe(opened);
  mode = '503';
  await post(20);
  await post(21);
  expect(await metric(`airmail_source_breaker_opened_total{kind="http",origin="${origin}"}`)).toBe(opened + 1);
  mode = 'ok';
  await until(async () => (await post(23)).json['error'] !== true, 'the origin used again', 5000);
}, 30_000);
