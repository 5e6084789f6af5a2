/**
 * A batch whose client goes away (a job's own HTTP timeout) starts no further element: without
 * this, a batch of 40 against a slow upstream kept calling it for seconds after nobody was
 * listening, and the job's retry doubled the load. Real parts: a counting slow upstream, the
 * worker pool, a socket closed mid-batch. Such a batch counts in airmail_batch_requests_total as 499.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

let upstream: Server;
let hits = 0;
let dir: string;
let srv: RunningServer;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  upstream = createServer((_req, res) => {
    hits++;
    setTimeout(() => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('[{"sku": 1}]'); }, 100).unref();
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  dir = await tempDir('airmail-batch-gone-');
  await writeFile(join(dir, 'p.yaml'), `operators:
  Recs: {use: HttpSource, parameters: {url: "http://127.0.0.1:${port}/u/{u}", vars: {u: $user}, column: sku, ttl_ms: 1, retries: 0}}
pipeline: {name: recs, item_type: sku, inputs: {user: {type: integer}}, initialization: {includes: [Recs]}}
`);
  srv = await server({ configs: dir, threads: 1 });
  expect(srv.startErrors).toEqual([]);
});

afterAll(async () => {
  await srv?.close();
  upstream?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('stops starting elements once the client has closed the connection; the server keeps serving', async () => {
  // Warm the worker and the connections first: not what is measured.
  expect((await fetch(`${srv.url}/pipelines/recs/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"requests": [{"user": 1000}]}' })).status).toBe(200);
  const before = hits;
  const body = JSON.stringify({ requests: Array.from({ length: 40 }, (_, i) => ({ user: i })) });
  const url = new URL(`${srv.url}/pipelines/recs/batch`);
  const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
  req.on('error', () => undefined);
  req.end(body);
  await sleep(350); // about 3 elements of 100 ms each
  req.destroy();
  const atClose = hits - before;
  await sleep(1200); // 12 more elements' time: without the stop they would have run
  expect(atClose).toBeGreaterThan(0);
  expect(hits - before - atClose).toBeLessThanOrEqual(2); // the one in flight (and its retry-free fetch), no more
  // Counted as abandoned (499), not as the 200 nobody read.
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  expect(metrics).toMatch(/airmail_batch_requests_total\{pipeline="recs",status="499"\} 1\n/);
  expect(metrics).toMatch(/airmail_batch_requests_total\{pipeline="recs",status="200"\} 1\n/);
  const r = await fetch(`${srv.url}/pipelines/recs/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests: [{ user: 100 }] }) });
  expect(r.status).toBe(200);
  expect(((await r.json()) as { results: { status: number }[] }).results[0]!.status).toBe(200);
});
