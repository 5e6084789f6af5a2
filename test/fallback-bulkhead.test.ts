/**
 * A pipeline whose upstream is slow holds its bulkhead share (max_workers) and its excess is refused
 * with a 503 naming it (bulkhead.ts): without a fallback that stays, but with one the refused
 * requests are answered by the fallback, which runs under its own share, not behind the full one
 * (and is not shed early by server.ts before its run). A whole-pool overload is never a fallback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

let srv: RunningServer;
let upstream: Server;
let dir: string;

beforeAll(async () => {
  upstream = createServer((_req, res) => { setTimeout(() => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('[{"sku": 9}]'); }, 1500).unref(); });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  dir = await tempDir('airmail-fallback-bulkhead-');
  await writeFile(join(dir, 'trending.json'), '[{"sku": 1}, {"sku": 2}]');
  const slow = (name: string, extra: string): string => `- {name: ${name}, item_type: sku, max_workers: 1, initialization: {includes: [{name: HttpSource, parameters: {url: 'http://127.0.0.1:${port}/${name}/{u}', vars: {u: $user}, column: sku, ttl_ms: 1, timeout_ms: 3000, retries: 0}}]}${extra}}\n`;
  await writeFile(join(dir, 'p.yaml'), `datasets: {trending: {path: trending.json}}\npipelines:\n${slow('with_fallback', ', fallback: trending_now')}${slow('without', '')}- {name: trending_now, item_type: sku, initialization: {includes: [{name: Lookup, parameters: {dataset: trending}}]}}\n`);
  // inlineUnderMs 0: every run goes through the pool and its bulkheads.
  srv = await server({ configs: dir, threads: 2, inlineUnderMs: 0, deadlineMs: 5000, maxQueueWaitMs: 100, watch: false });
  expect(srv.startErrors).toEqual([]);
});

afterAll(async () => {
  await srv?.close();
  upstream?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
  if (dir) await rm(dir, { recursive: true, force: true });
});

const run = async (name: string, user: number): Promise<{ status: number; body: { pipeline: string; code?: string; reason: string; fallback?: { cause: string; code?: string } } }> => {
  const r = await fetch(`${srv.url}/pipelines/${name}?user=${user}`);
  return { status: r.status, body: (await r.json()) as never };
};

it('a request refused by its pipeline\'s full share is answered by the fallback, under the fallback\'s own share', async () => {
  // A run waiting on the upstream holds the share (1 of 2 workers): a second request is refused by the bulkhead.
  const holdingPlain = run('without', 1);
  await new Promise((r) => setTimeout(r, 400));
  const plain = await run('without', 2);
  expect(plain.status, JSON.stringify(plain.body)).toBe(503);
  expect(plain.body.reason).toMatch(/pipeline 'without' holds its limit of 1 of 2 worker/);
  expect((await holdingPlain).status).toBe(200);

  const holding = run('with_fallback', 1);
  await new Promise((r) => setTimeout(r, 400));
  const t0 = Date.now();
  const fb = await run('with_fallback', 2);
  expect(Date.now() - t0).toBeLessThan(800);
  expect(fb.status, JSON.stringify(fb.body)).toBe(200);
  expect(fb.body.pipeline).toBe('trending_now');
  expect(fb.body.fallback).toMatchObject({ cause: 'error', code: 'OVERLOADED' });
  expect(fb.body.fallback).toHaveProperty('reason', expect.stringMatching(/pipeline 'with_fallback' holds its limit of 1/));
  const held = await holding;
  expect([held.status, held.body.pipeline]).toEqual([200, 'with_fallback']);
}, 20_000);
