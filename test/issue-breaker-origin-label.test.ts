/**
 * Issue: `airmail_source_breaker_{opened,skipped}_total` had only a `kind` label, so an alert on them
 * could say that some HTTP upstream (or some Redis) was down, never which one; the on-call engineer had
 * to read log lines to find it. Now both carry `origin`: scheme://host:port of the HttpSource's URL or
 * of the RedisSource's server, never its user info, password, path, query or database; an origin
 * whose breaker never opened has no series.
 * Real parts: local HTTP upstreams (one answering 503, one healthy), a Redis URL whose port nobody
 * listens on (ioredis really fails to connect), the worker pool, /metrics.
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { metricValue, server, tempDir } from './helpers.js';

let srv: RunningServer;
let down: Server;
let up: Server;
let downPort: number;
let upPort: number;
let closedPort: number;

async function listen(s: Server): Promise<number> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}

beforeAll(async () => {
  down = createServer((_, res) => void res.writeHead(503).end('unwell'));
  up = createServer((_, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('[{"sku_id": 1}]'));
  downPort = await listen(down);
  upPort = await listen(up);
  const gone = createServer();
  closedPort = await listen(gone);
  await new Promise((r) => gone.close(r));
  const dir = await tempDir('airmail-breaker-origin-');
  const p = (name: string, source: string): string => `- name: ${name}\n  item_type: sku_id\n  inputs: {user: {type: integer}}\n  initialization:\n    includes: [${source}]\n`;
  await writeFile(join(dir, 'p.yaml'), `pipelines:\n${[
    p('down', `{name: HttpSource, parameters: {url: 'http://svc:pw@127.0.0.1:${downPort}/recs/v2?token=s3cret&user={user}', vars: {user: $user}, column: sku_id, retries: 2, backoff_ms: 1}}`),
    p('up', `{name: HttpSource, parameters: {url: 'http://127.0.0.1:${upPort}/recs?user={user}', vars: {user: $user}, column: sku_id}}`),
    p('cache', `{name: RedisSource, parameters: {url: 'redis://:s3cret@127.0.0.1:${closedPort}/3', key: 'recs:{user}', type: list, vars: {user: $user}, column: sku_id, timeout_ms: 50, retries: 1, backoff_ms: 1}}`),
  ].join('')}`);
  srv = await server({ configs: dir, threads: 1, watch: false });
  expect(srv.startErrors).toEqual([]);
});

afterAll(async () => {
  await srv?.close();
  await new Promise((r) => down?.close(r));
  await new Promise((r) => up?.close(r));
});

async function post(pipeline: string, user: number): Promise<Record<string, unknown>> {
  const res = await request(`${srv.url}/pipelines/${pipeline}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }) });
  expect(res.statusCode).toBe(200);
  return (await res.body.json()) as Record<string, unknown>;
}

it('the breaker series name the origin that stopped answering, and nothing secret', async () => {
  // 3 attempts a request: the 5th 503 in a row opens the breaker; the 6th attempt, and the next request's first, are skipped.
  for (let u = 1; u <= 3; u++) expect(await post('down', u)).toMatchObject({ error: true, code: 'SOURCE_FAILED' });
  expect(await post('up', 1)).toMatchObject({ items: [{ sku_id: 1 }] });
  for (let u = 1; u <= 2; u++) expect(await post('cache', u)).toMatchObject({ error: true, code: 'SOURCE_FAILED' });

  const http = `kind="http",origin="http://127.0.0.1:${downPort}"`;
  expect(await metricValue(srv.url, `airmail_source_breaker_opened_total{${http}}`)).toBe(1);
  expect(await metricValue(srv.url, `airmail_source_breaker_skipped_total{${http}}`)).toBeGreaterThanOrEqual(1);
  const redis = `kind="redis",origin="redis://127.0.0.1:${closedPort}"`;
  expect(await metricValue(srv.url, `airmail_source_breaker_opened_total{${redis}}`)).toBeGreaterThanOrEqual(1);
  expect(await metricValue(srv.url, `airmail_source_breaker_skipped_total{${redis}}`)).toBeGreaterThanOrEqual(1);

  const lines = (await (await fetch(`${srv.url}/metrics`)).text()).split('\n').filter((l) => l.startsWith('airmail_source_breaker_'));
  // Two series per broken origin; the healthy upstream has none.
  expect(lines).toHaveLength(4);
  expect(lines.join('\n')).not.toMatch(/s3cret|svc|pw@|\/recs|token|\/3"/);
  expect(lines.join('\n')).not.toContain(String(upPort));
});
