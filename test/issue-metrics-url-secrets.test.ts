/**
 * GET /metrics (public, no token) labelled remote-source cache lookups with the source's URL, user
 * info included: `airmail_cache_requests_total{source="HttpSource http://u:<password>@host/p",...}`,
 * the password usually an expanded `{env:}` secret, while reasons, logs and explain redacted it.
 * Now the label loses user info and query string, whoever named the source.
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

const PASSWORD = 'pw-5ecret-77a1';
const QUERY = 'qs-5ecret-19c4';
let upstream: Server;
let srv: RunningServer;

beforeAll(async () => {
  process.env['AIRMAIL_METRICS_TEST_URL_PW'] = PASSWORD;
  upstream = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ sku: 1 }, { sku: 2 }])));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  const configs = await mkdtemp(join(tmpdir(), 'airmail-metrics-secrets-'));
  await writeFile(join(configs, 'p.yaml'), `
operators:
  Up: {use: HttpSource, parameters: {url: 'http://reader:{env:AIRMAIL_METRICS_TEST_URL_PW}@127.0.0.1:${port}/items?token=${QUERY}', column: sku}}
pipelines:
- {name: up, item_type: sku, initialization: {includes: [Up]}}
`);
  // Worker threads: the front caches' counts come back from them (layer="front"), the broker's are the main thread's.
  srv = await server({ configs, threads: 1, watch: false });
  expect(srv.startErrors).toEqual([]);
});

afterAll(async () => {
  await srv?.close();
  await new Promise((r) => upstream?.close(r));
  delete process.env['AIRMAIL_METRICS_TEST_URL_PW'];
});

describe('remote-source cache metrics', () => {
  it('name the source without the URL\'s user info or query string', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await request(`${srv.url}/pipelines/up/run`);
      expect(res.statusCode).toBe(200);
      expect(((await res.body.json()) as { items: unknown[] }).items).toHaveLength(2);
    }
    const text = await (await request(`${srv.url}/metrics`)).body.text();
    const lines = text.split('\n').filter((l) => l.startsWith('airmail_cache_requests_total{'));
    expect(lines.length).toBeGreaterThan(0);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(QUERY);
    expect(lines.some((l) => /source="HttpSource http:\/\/\*\*\*@127\.0\.0\.1:\d+\/items"/.test(l))).toBe(true);
    // One series per label set (Prometheus refuses a scrape with duplicates).
    const keys = lines.map((l) => l.slice(0, l.lastIndexOf(' ')));
    expect(new Set(keys).size).toBe(keys.length);
  });
});
