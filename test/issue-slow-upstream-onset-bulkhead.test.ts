/**
 * The moment an upstream turns slow. The bulkheads learned that a pipeline waits on remote sources
 * only from its finished runs, and no run finishes for as long as the slow upstream takes: on two
 * workers the next request of the slow pipeline took the last free worker, both held slow runs, and
 * the fast pipeline beside it met the pool-wide shed (0-34 of 1,600 refused and a p99 of 0.4-0.6 s
 * in loadtest/bulkhead.ts). Now a running task that has waited on a fetch for over 20 ms counts at
 * once (engine/fetch-slots.ts): the upstream never sees more than one request of it at a time
 * while the fast pipeline is active, and the fast pipeline is not refused.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

let srv: RunningServer;
let upstream: Server;
let delayMs = 2;
/** Requests the upstream holds now, and the most it held while counted. */
let inFlight = 0;
let most = 0;

beforeAll(async () => {
  upstream = createServer((_req, res) => {
    most = Math.max(most, ++inFlight);
    setTimeout(() => {
      inFlight--;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify([{ sku_id: 1 }, { sku_id: 2 }]));
    }, delayMs);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  const dir = await tempDir('airmail-onset-');
  await writeFile(join(dir, 'catalog.json'), JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ sku_id: i, dept: i % 10 }))));
  await writeFile(join(dir, 'p.yaml'), `
datasets:
  catalog: {path: catalog.json, key: sku_id}
pipelines:
- name: slow
  item_type: sku_id
  inputs: {user: {type: integer}}
  initialization:
    includes: [{name: HttpSource, parameters: {url: 'http://127.0.0.1:${port}/items?user={user}', vars: {user: $user}, column: sku_id, ttl_ms: 1, timeout_ms: 3000, retries: 0}}]
- name: fast
  item_type: sku_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: catalog, where: {dept: $dept}}}]
  operations: [{name: Limit, parameters: {n: 5}}]
`);
  // inlineUnderMs 0: the fast pipeline runs on the workers (a cheap one would move to the main thread).
  srv = await server({ configs: dir, threads: 2, inlineUnderMs: 0, deadlineMs: 5000, watch: false });
});

afterAll(async () => {
  await srv?.close();
  await new Promise((r) => upstream?.close(r));
});

async function post(name: string, body: object): Promise<number> {
  const res = await request(`${srv.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await res.body.dump();
  return res.statusCode;
}

/** Open loop for `ms`: a slow request every 25 ms, a fast one every 10 ms; the upstream's concurrency counted meanwhile. */
async function mixed(ms: number): Promise<{ slow: number[]; fast: number[]; most: number }> {
  const slow: Promise<number>[] = [];
  const fast: Promise<number>[] = [];
  let user = 0;
  most = inFlight;
  const a = setInterval(() => slow.push(post('slow', { user: ++user })), 25);
  const b = setInterval(() => fast.push(post('fast', { dept: user % 10 })), 10);
  await new Promise((r) => setTimeout(r, ms));
  clearInterval(a);
  clearInterval(b);
  const held = most;
  return { slow: await Promise.all(slow), fast: await Promise.all(fast), most: held };
}

it('when the upstream turns slow, the slow pipeline does not take the last free worker before any of its runs finished', async () => {
  const healthy = await mixed(1000);
  expect(healthy.slow.every((s) => s === 200)).toBe(true);
  expect(healthy.fast.every((s) => s === 200)).toBe(true);

  delayMs = 400;
  // Shorter than a slow answer and a bit more: the moment the average of finished runs cannot know yet.
  const onset = await mixed(1200);
  delayMs = 2;
  // Was 2: the second slow request, 25 ms after the first, took the other worker.
  expect(onset.most).toBe(1);
  expect(onset.fast.filter((s) => s !== 200)).toEqual([]);
  expect(onset.slow.filter((s) => s === 200).length).toBeGreaterThan(0);
}, 30_000);
