/**
 * A retailer's storefront page on another origin could not call a pipeline from the browser: no
 * preflight answer, no Access-Control-Allow-Origin. `--cors-origin` (AIRMAIL_CORS_ORIGIN) opts in, for
 * the serving routes only; admin routes, /execute and /validate stay same-origin, and a preflight is
 * answered before the app (not counted as a request). Checked with a real browser: a page served
 * from another port POSTs JSON to a pipeline and reads the answer.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCorsOrigins } from '../engine/http/cors.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
let page: Server;
let pageOrigin: string;
let on: RunningServer;
let off: RunningServer;
let browser: Browser;
let tab: Page;

beforeAll(async () => {
  const dir = await tempDir('airmail-cors-');
  await writeFile(join(dir, 'items.csv'), 'sku_id,color\n1,red\n2,blue\n3,red\n');
  await writeFile(join(dir, 'p.yaml'), [
    'datasets:', '  items: {path: items.csv, key: sku_id}', 'pipeline:', '  name: reds', '  item_type: sku_id',
    '  inputs: {color: {default: red}}', '  initialization:',
    '    includes: [{name: Lookup, parameters: {dataset: items, where: {color: $color}}}]', '  return: [sku_id]', '',
  ].join('\n'));
  page = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>shop</title>'));
  await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
  pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
  on = await server({ configs: dir, threads: 1, watch: false, adminToken: 'tok', corsOrigins: new Set([pageOrigin]) });
  off = await server({ configs: dir, threads: 1, watch: false, adminToken: 'tok' });
  if (!existsSync(CHROMIUM)) throw new Error(`chromium is not installed at ${CHROMIUM}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  tab = await browser.newPage();
  await tab.goto(pageOrigin);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await Promise.all([on?.close(), off?.close()]);
  page?.close();
});

type Answer = { status?: number; body?: unknown; requestId?: string | null; error?: string };
/** fetch() from the storefront page (another origin than the server's). */
const call = (url: string, init: { method: string; headers?: Record<string, string>; body?: string }): Promise<Answer> =>
  tab.evaluate(async ([u, i]) => {
    try {
      const r = await fetch(u, i);
      return { status: r.status, body: await r.json(), requestId: r.headers.get('x-request-id') };
    } catch (e) {
      return { error: String(e) };
    }
  }, [url, init] as const);
const json = { 'content-type': 'application/json' };

const served = async (srv: RunningServer): Promise<number> => {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  return [...text.matchAll(/^airmail_requests_total\{[^}]*pipeline="reds"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
};

describe('--cors-origin', () => {
  it('lets a page on the allowed origin POST JSON to a pipeline and read the answer; the preflight is not a request', async () => {
    const before = await served(on);
    const a = await call(`${on.url}/pipelines/reds`, { method: 'POST', headers: { ...json, 'x-airmail-deadline-ms': '5000' }, body: '{"color": "red"}' });
    expect(a).toMatchObject({ status: 200, body: { items: [{ sku_id: 1 }, { sku_id: 3 }], pipeline: 'reds' } });
    expect(a.requestId).toMatch(/\S/); // an exposed header
    expect(await served(on)).toBe(before + 1); // the POST, not its preflight
    expect(await call(`${on.url}/pipelines/reds/run?color=blue`, { method: 'GET' })).toMatchObject({ status: 200, body: { items: [{ sku_id: 2 }] } });
    expect(await call(`${on.url}/openapi.json`, { method: 'GET' })).toMatchObject({ status: 200, body: { openapi: expect.any(String) } });
    // An error answer is readable too (the page can tell the shopper why).
    expect(await call(`${on.url}/pipelines/nope`, { method: 'POST', headers: json, body: '{}' })).toMatchObject({ status: 404 });
  });

  it('without the option (the default) the browser refuses the same call', async () => {
    expect((await call(`${off.url}/pipelines/reds`, { method: 'POST', headers: json, body: '{}' })).error).toMatch(/Failed to fetch/);
    expect((await call(`${off.url}/openapi.json`, { method: 'GET' })).error).toMatch(/Failed to fetch/);
  });

  it('admin routes, /execute and /validate stay refused cross-origin, even with the token', async () => {
    const yaml = { 'content-type': 'application/yaml', authorization: 'Bearer tok' };
    const put = 'pipeline:\n  name: posted\n  item_type: sku_id\n  initialization:\n    includes: [{name: Static, parameters: {items: [1]}}]\n';
    for (const [path, init] of [
      ['/pipelines', { method: 'POST', headers: yaml, body: put }],
      ['/pipelines/reds', { method: 'DELETE', headers: { authorization: 'Bearer tok' } }],
      ['/execute', { method: 'POST', headers: json, body: '{}' }],
      ['/validate', { method: 'POST', headers: json, body: '{}' }],
    ] as const) {
      expect((await call(`${on.url}${path}`, init)).error, path).toMatch(/Failed to fetch/);
    }
    expect(on.engine.snapshot.pipelines.has('posted')).toBe(false);
    expect(on.engine.snapshot.pipelines.has('reds')).toBe(true);
    // A preflight for an origin not in the list gets no allow headers.
    const other = await fetch(`${on.url}/pipelines/reds`, { method: 'OPTIONS', headers: { origin: 'http://evil.test', 'access-control-request-method': 'POST' } });
    expect(other.status).toBe(204);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.headers.get('vary')).toBe('Origin');
  });

  it('takes * or a list of origins, and refuses what a browser never sends as an origin', () => {
    expect(parseCorsOrigins('*')).toBe('*');
    expect(parseCorsOrigins('https://shop.example.com, http://localhost:3000')).toEqual(new Set(['https://shop.example.com', 'http://localhost:3000']));
    expect(parseCorsOrigins('https://shop.example.com/')).toEqual({ error: expect.stringContaining("did you mean 'https://shop.example.com'?") });
    expect(parseCorsOrigins('*,https://a.b')).toHaveProperty('error');
    expect(parseCorsOrigins(' ')).toHaveProperty('error');
  });
});
