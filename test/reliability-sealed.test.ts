/**
 * What a config sent over HTTP (sealed: /execute, /validate, admin POST /pipelines) cannot do:
 * read the server's environment ({env:NAME} leaked AIRMAIL_ADMIN_TOKEN through the reason of a
 * failed fetch, and through /validate's "not a URL" message), point a remote source at an address
 * of its own (SSRF, e.g. the server's own /pipelines), or outlive the server's deadline. Pipeline
 * names that every object has (`__proto__`: two unauthenticated requests made every route a 500)
 * are refused everywhere. And a URL's query string and user info never reach a reason, explain
 * or debug trace, whatever config it came from.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigSet } from '../engine/config/load.js';
import type { Engine } from '../engine/engine.js';
import { uiStats } from '../engine/http/ui.js';
import { Observability } from '../engine/observe/index.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import { json as jsonReply, startUpstream, type Upstream } from '../engine/remote/upstream-fixture.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, OPS, server } from './helpers.js';

const TOKEN = 'sealed-test-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const SECRET = 's3cret-sealed-7f3a';
const RESERVED = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype'];
const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();

let upstream: Upstream;
let srv: RunningServer;

async function send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
  const res = await request(`${srv.url}${path}`, { method: method as 'POST', headers: { 'content-type': 'application/json', ...headers }, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: JSON.parse(text) as Record<string, unknown> };
}

const adhoc = (includes: unknown[], extra: Record<string, unknown> = {}) => ({ ...extra, pipeline: { name: 'h1', item_type: 'sku_id', initialization: { includes } }, inputs: {} });
const remoteConfig = (url: string): string => `
operators:
  Upstream: {use: HttpSource, parameters: {url: '${url}/items?token={env:AIRMAIL_SEALED_TEST_SECRET}', column: sku_id, retries: 0, ttl_ms: 1}}
  BrokenUpstream: {use: HttpSource, parameters: {url: 'http://user:{env:AIRMAIL_SEALED_TEST_SECRET}@127.0.0.1:${new URL(url).port}/broken?token={env:AIRMAIL_SEALED_TEST_SECRET}', column: sku_id, retries: 0, ttl_ms: 1}}
  SlowUpstream: {use: HttpSource, parameters: {url: '${url}/slow', column: sku_id, retries: 0, timeout_ms: 30000, ttl_ms: 1}}
pipelines:
- {name: remote_items, item_type: sku_id, initialization: {includes: [Upstream]}}
- {name: broken_items, item_type: sku_id, initialization: {includes: [BrokenUpstream]}}
- {name: slow_trusted, item_type: sku_id, deadline_ms: 60000, initialization: {includes: [SlowUpstream]}}
`;

async function start(deadlineMs?: number): Promise<RunningServer> {
  const configs = await demoConfigs();
  await writeFile(join(configs, 'remote.yaml'), remoteConfig(upstream.url));
  const s = await server({ configs, threads: 0, adminToken: TOKEN, watch: false, ...(deadlineMs ? { deadlineMs } : {}) });
  expect(s.startErrors).toEqual([]);
  return s;
}

beforeAll(async () => {
  process.env['AIRMAIL_SEALED_TEST_SECRET'] = SECRET;
  upstream = await startUpstream({
    handler: async (u) => {
      if (u.pathname === '/broken') return { status: 500, body: 'down' };
      if (u.pathname === '/slow') await new Promise((r) => setTimeout(r, 1500));
      return jsonReply([{ sku_id: 1 }, { sku_id: 2 }]);
    },
  });
  srv = await start();
});
afterAll(async () => {
  await srv?.close();
  await upstream?.close();
});

describe('{env:} in a config sent over HTTP', () => {
  it('is refused on /execute, /validate and admin POST /pipelines: never expanded, never echoed, nothing fetched', async () => {
    const before = upstream.calls.total;
    const url = `${upstream.url}/x?t={env:AIRMAIL_SEALED_TEST_SECRET}`;
    const http = { name: 'HttpSource', parameters: { url, column: 'sku_id', retries: 0 } };
    const r = await send('POST', '/execute', adhoc([http]));
    expect(r.status).toBe(422);
    expect(r.json['code']).toBe('CONFIG_INVALID');
    expect(r.text).toContain("'{env:...}' reads the server's environment");
    const v = await send('POST', '/validate', { pipeline: { name: 'v1', item_type: 'sku_id', initialization: { includes: [{ name: 'HttpSource', parameters: { url: '{env:AIRMAIL_SEALED_TEST_SECRET}' } }] } } });
    expect(v.status).toBe(422);
    expect(v.text).toContain('{env:...}');
    const a = await send('POST', '/pipelines', { operators: { Mine: { use: 'Static', parameters: { items: ['{env:AIRMAIL_SEALED_TEST_SECRET}'] } } }, pipeline: { name: 'posted', item_type: 'sku_id', initialization: { includes: ['Mine'] } } }, AUTH);
    expect(a.status).toBe(422);
    // A remote dataset expands {env:} from the configs directory only: sent over HTTP it is refused before any fetch.
    const dataset = { datasets: { d: { http: { url: `${upstream.url}/d?t={env:AIRMAIL_SEALED_TEST_SECRET}` } } } };
    const ds = [
      await send('POST', '/execute', adhoc(['Upstream'], dataset)),
      await send('POST', '/validate', { ...dataset, pipeline: adhoc(['Upstream']).pipeline }),
      await send('POST', '/pipelines', { ...dataset, pipeline: { ...adhoc(['Upstream']).pipeline, name: 'posted' } }, AUTH),
    ];
    for (const x of ds) expect(x.status, x.text).toBe(422);
    for (const x of [r, v, a, ...ds]) expect(x.text).not.toContain(SECRET);
    expect(upstream.calls.total).toBe(before);
  });
});

describe('remote sources in a config sent over HTTP', () => {
  it('cannot name their own URL or Redis key: HttpSource/RedisSource directly or in their own preset are refused (no SSRF)', async () => {
    const before = upstream.calls.total;
    const cases: [string, unknown, Record<string, string>][] = [
      ['/execute', adhoc([{ name: 'HttpSource', parameters: { url: `${srv.url}/pipelines`, column: 'sku_id', retries: 0 } }]), {}],
      ['/execute', adhoc([{ name: 'HttpSource', parameters: { url: `${upstream.url}/items`, column: 'sku_id' } }]), {}],
      ['/execute', adhoc(['Mine'], { operators: { Mine: { use: 'HttpSource', parameters: { url: `${upstream.url}/items` } } } }), {}],
      ['/execute', adhoc([{ name: 'RedisSource', parameters: { key: 'airmail:configs', type: 'hash' } }]), {}],
      ['/validate', { pipeline: adhoc([{ name: 'HttpSource', parameters: { url: `${upstream.url}/items` } }]).pipeline }, {}],
      ['/pipelines', { operators: { Mine: { use: 'HttpSource', parameters: { url: `${upstream.url}/items` } } }, pipeline: { name: 'posted', item_type: 'sku_id', initialization: { includes: ['Mine'] } } }, AUTH],
    ];
    for (const [path, body, headers] of cases) {
      const r = await send('POST', path, body, headers);
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(422);
      expect(r.text).toMatch(/connects to other services; a config sent over HTTP can use it only through a preset defined in the configs directory/);
    }
    expect(upstream.calls.total).toBe(before);
    expect(srv.engine.snapshot.pipelines.has('posted')).toBe(false);
  });

  it('can use a preset from the configs directory, but not override where it connects', async () => {
    const ok = await send('POST', '/execute', adhoc(['Upstream']));
    expect(ok.status).toBe(200);
    expect((ok.json['items'] as { sku_id: number }[]).map((i) => i.sku_id)).toEqual([1, 2]);
    const over = await send('POST', '/execute', adhoc([{ name: 'Upstream', parameters: { url: `${srv.url}/pipelines` } }]));
    expect(over.status).toBe(422);
    expect((over.json['errors'] as { pointer: string }[])[0]!.pointer).toBe('/pipeline/initialization/includes/0/parameters/url');
    // Nor raise how much it reads: the preset's bound protects the server.
    const bigger = await send('POST', '/execute', adhoc([{ name: 'Upstream', parameters: { max_bytes: 1024 * 1024 * 1024 } }]));
    expect(bigger.status).toBe(422);
    expect((bigger.json['errors'] as { pointer: string; message: string }[])[0]).toMatchObject({
      pointer: '/pipeline/initialization/includes/0/parameters/max_bytes',
      message: expect.stringMatching(/may not set 'max_bytes', which bounds how much it reads/),
    });
  });
});

describe('URLs in reasons, explain and debug traces (configs from the configs directory too)', () => {
  it('show no query string and no user info, so an expanded {env:} value never leaks', async () => {
    const failed = await send('POST', '/pipelines/broken_items', {});
    expect(failed.status).toBe(200);
    expect(failed.json['error']).toBe(true);
    expect(failed.json['reason']).toMatch(/GET http:\/\/\*\*\*@127\.0\.0\.1:\d+\/broken\?\*\*\* failed/);
    const explain = await send('GET', '/pipelines/remote_items/explain');
    const debug = await send('POST', '/pipelines/remote_items?debug=true', {});
    expect(debug.status).toBe(200);
    expect(JSON.stringify(debug.json['debug'])).toContain('/items?***');
    for (const r of [failed, explain, debug]) expect(r.text).not.toContain(SECRET);
    // The upstream still got the real URL.
    expect(upstream.calls.byUrl.get(`/items?token=${SECRET}`)).toBeGreaterThan(0);
  });
});

describe('names every object has', () => {
  it('the audit requests: /execute named __proto__, then /ui/stats: refused, and /health, /ready and pipelines keep answering', async () => {
    const polluting = adhoc([{ name: 'Static', parameters: { items: [1] } }]);
    polluting.pipeline.name = '__proto__';
    const r = await send('POST', '/execute', polluting);
    expect(r.status).toBe(422);
    expect(r.text).toContain("'__proto__' cannot be a pipeline name");
    expect((await send('GET', '/ui/stats')).status).toBe(200);
    expect((await send('GET', '/health')).status).toBe(200);
    expect((await send('GET', '/ready')).status).toBe(200);
    expect((await send('POST', '/pipelines/remote_items', {})).status).toBe(200);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
  });

  it.each(RESERVED)('%s is refused as a pipeline name on /execute, /validate and admin POST /pipelines', async (name) => {
    const pipeline = { name, item_type: 'sku_id', initialization: { includes: [{ name: 'Static', parameters: { items: [1] } }] } };
    for (const [path, body, headers] of [['/execute', { pipeline, inputs: {} }, {}], ['/validate', { pipeline }, {}], ['/pipelines', { pipeline }, AUTH]] as const) {
      const r = await send('POST', path, body, headers);
      expect(r.status, path).toBe(422);
      expect(r.text, path).toContain(`'${name}' cannot be a pipeline name: it is a property every JavaScript object has`);
    }
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
  });

  it('is refused in a config file, with file, line and pointer, as a preset, dataset or context name too', async () => {
    const text = 'operators:\n  toString: {use: Static, parameters: {items: [1]}}\npipelines:\n- name: constructor\n  item_type: sku_id\n  initialization: {includes: [{name: Static, parameters: {items: [1]}}]}\n';
    const r = await loadConfigSet([{ path: '/configs/bad.yaml', text }], { operators: OPS });
    expect(r.ok).toBe(false);
    const found = r.ok ? [] : r.diagnostics.map((d) => ({ code: d.code, file: d.file, line: d.line, pointer: d.pointer }));
    expect(found).toEqual(expect.arrayContaining([
      { code: 'CONFIG_INVALID', file: '/configs/bad.yaml', line: 2, pointer: '/operators/toString' },
      { code: 'CONFIG_INVALID', file: '/configs/bad.yaml', line: 4, pointer: '/pipelines/0/name' },
    ]));
  });

  it('the page stats keep names in an object without a prototype (a metric labelled __proto__ pollutes nothing)', () => {
    const metrics = new EngineMetrics();
    metrics.latency.observe(['__proto__', '200'], 0.01);
    metrics.errors.inc(['constructor', 'INTERNAL', '']);
    const stats = uiStats({ observe: new Observability({ metrics }), store: { reloadHistory: () => [] } } as unknown as Engine) as { pipelines: Record<string, { requests: number; errors: number }> };
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
    expect(Object.hasOwn(stats.pipelines, '__proto__')).toBe(true);
    expect(stats.pipelines['constructor']!.errors).toBe(1);
  });
});

describe('deadlines of a pipeline sent with /execute', () => {
  let short: RunningServer;
  beforeAll(async () => {
    short = await start(300);
  });
  afterAll(async () => short?.close());
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await request(`${short.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  };

  it('can only shorten the server default: deadline_ms 60000 on /execute still ends at --deadline-ms', async () => {
    const body = { pipeline: { name: 'slow', item_type: 'sku_id', deadline_ms: 60_000, initialization: { includes: ['SlowUpstream'] } }, inputs: {} };
    const r = await post('/execute', body);
    expect(r.status).toBe(504);
    expect(r.json['code']).toBe('DEADLINE_EXCEEDED');
  });

  it('a pipeline from the configs directory may set a longer deadline_ms than the default', async () => {
    const r = await post('/pipelines/slow_trusted', {});
    expect(r.status).toBe(200);
    expect(r.json['items']).toEqual([{ sku_id: 1 }, { sku_id: 2 }]);
  });

  it.each(['abc', '-5', '0', '1.5', ''])('x-airmail-deadline-ms: %j is a 400 HEADER_INVALID, not ignored', async (value) => {
    for (const path of ['/pipelines/remote_items', '/pipelines/remote_items?debug=false', '/execute']) {
      const r = await post(path, path === '/execute' ? adhoc(['Upstream']) : {}, { 'x-airmail-deadline-ms': value });
      expect(r.status, path).toBe(400);
      expect(r.json['code']).toBe('HEADER_INVALID');
      expect(String(r.json['reason'])).toContain('x-airmail-deadline-ms must be a positive whole number of milliseconds');
    }
  });
});
