/**
 * An HttpSource whose url puts a request value in the path (`/users/{user}/items`) added metric
 * series for every value a client sent: `airmail_cache_requests_total{source="HttpSource
 * http://host/users/1/items"}`, `.../users/2/items`, ..., six per value, and a counters entry per
 * value in the broker's cache stats, in each worker and in the main thread's front-cache counts,
 * none ever dropped (found by a soak with ever-new inputs). The source is named by its configured
 * URL now, placeholders and all: one name per source, whatever the requests send.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server } from './helpers.js';

const USERS = 400;
let upstream: Server;
let srv: RunningServer;
const paths = new Set<string>();

beforeAll(async () => {
  upstream = createServer((req, res) => {
    paths.add(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ sku: 1 }, { sku: 2 }]));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  const configs = await mkdtemp(join(tmpdir(), 'airmail-source-label-'));
  await writeFile(join(configs, 'p.yaml'), `
operators:
  ForUser: {use: HttpSource, parameters: {url: 'http://127.0.0.1:${port}/users/{user}/items?k=1', vars: {user: $user}, column: sku}}
pipelines:
- {name: for_user, item_type: sku, initialization: {includes: [ForUser]}}
`);
  srv = await server({ configs, threads: 1, watch: false });
  expect(srv.startErrors).toEqual([]);
}, 30_000);

afterAll(async () => {
  await srv?.close();
  await new Promise((r) => upstream?.close(r));
});

describe('a remote source with a request value in its URL path', () => {
  it(`keeps one metrics source for ${USERS} distinct values`, async () => {
    for (let i = 0; i < USERS; i += 20) {
      await Promise.all(Array.from({ length: 20 }, async (_, j) => {
        const res = await request(`${srv.url}/pipelines/for_user`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: `u${i + j}` }) });
        expect(res.statusCode).toBe(200);
        expect(((await res.body.json()) as { items: unknown[] }).items).toHaveLength(2);
      }));
    }
    // Each value was fetched with its own path: the label changed, not the requests.
    expect(paths.size).toBe(USERS);
    expect(paths.has('/users/u7/items?k=1')).toBe(true);
    const text = await (await request(`${srv.url}/metrics`)).body.text();
    const lines = text.split('\n').filter((l) => l.startsWith('airmail_cache_requests_total{'));
    const sources = new Set(lines.map((l) => /source="([^"]*)"/.exec(l)![1]));
    expect([...sources]).toEqual([expect.stringMatching(/^HttpSource http:\/\/127\.0\.0\.1:\d+\/users\/\{user\}\/items$/)]);
    expect(lines.length).toBeLessThanOrEqual(9); // layers front, shared × hit, miss, stale
    const misses = lines.filter((l) => l.includes('layer="shared"') && l.includes('result="miss"'));
    expect(misses.map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)))).toEqual([USERS]);
    const stats = srv.engine.remote.stats();
    expect(Object.keys(stats.shared.sources)).toHaveLength(1);
    expect(srv.engine.observe.metrics?.frontCacheCounts.size).toBe(1);
  }, 60_000);

  it('still names the request\'s own URL when the fetch fails', async () => {
    upstream.removeAllListeners('request');
    upstream.on('request', (_req, res) => res.writeHead(404).end());
    const res = await request(`${srv.url}/pipelines/for_user`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'zed' }) });
    const body = (await res.body.json()) as { code: string; reason: string };
    expect(body.code).toBe('SOURCE_FAILED');
    expect(body.reason).toContain('/users/zed/items');
  });
});
