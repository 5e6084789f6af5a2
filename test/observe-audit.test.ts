/**
 * Regression tests for the observability audit: what a new user found missing or wrong in metrics,
 * logs and debug output. Each `it` is named after what broke.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Logger } from '../engine/observe/logs.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import { Observability } from '../engine/observe/index.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

type Rec = Record<string, unknown>;

let srv: RunningServer;
let dir: string;
let upstream: Server;
const lines: string[] = [];
const metrics = new EngineMetrics();
const records = (): Rec[] => lines.map((l) => JSON.parse(l) as Rec);

/** Sum of the samples of `name` whose labels include `labels`. */
async function scrape(): Promise<string> {
  return (await request(`${srv.url}/metrics`)).body.text();
}
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let n = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => l[k] === v)) n += Number(m[3]);
  }
  return n;
}
function series(text: string, name: string): number {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`)).length;
}

async function post(path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Rec }> {
  const r = await request(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await r.body.text();
  let parsed: Rec = {};
  try {
    parsed = JSON.parse(text) as Rec;
  } catch {
    // not JSON
  }
  return { status: r.statusCode, headers: r.headers as Record<string, unknown>, body: parsed };
}

const adhoc = (name: string, steps = 'AvailableInventory'): string => JSON.stringify({
  pipeline: { name, item_type: 'sku_id', initialization: { includes: [{ name: steps }] }, operations: [{ name: 'Limit', parameters: { n: 2 } }], return: ['sku_id'] },
  inputs: { client_id: 17 },
});

describe('observability audit', () => {
  beforeAll(async () => {
    upstream = createServer((req, res) => {
      if (req.url?.startsWith('/fail')) res.writeHead(500).end('down');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ item_id: 1 }, { item_id: 2 }, { item_id: 3 }]));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const port = (upstream.address() as AddressInfo).port;
    dir = await demoConfigs();
    const remote = (name: string, path: string, cache: string): string => `pipeline:
  name: ${name}
  item_type: item_id
  initialization:
    includes:
    - {name: HttpSource, parameters: {url: 'http://127.0.0.1:${port}${path}?k={k}', vars: {k: $k}, column: item_id, retries: 0, ${cache}}}
  operations:
  - {name: Limit, parameters: {n: 2}}
  return: [item_id]
`;
    await writeFile(join(dir, 'fresh_items.yaml'), remote('fresh_items', '/items', 'ttl_ms: 60000'));
    await writeFile(join(dir, 'stale_items.yaml'), remote('stale_items', '/stale', 'ttl_ms: 1, jitter: 0, stale_ms: 600000'));
    await writeFile(join(dir, 'failing_items.yaml'), remote('failing_items', '/fail', 'ttl_ms: 60000'));
    const logger = new Logger({ level: 'debug', sink: { write: (s: string) => lines.push(s) }, pretty: false });
    // One worker, no inline runs: each remote source has one front cache, so hits are exact.
    srv = await server({ configs: dir, threads: 1, inlineUnderMs: 0, observe: new Observability({ logger, metrics }) });
    expect(srv.startErrors).toEqual([]);
  });
  afterAll(async () => {
    await srv?.close();
    upstream?.close();
  });

  it('ad-hoc /execute runs are counted under _execute, never under the name in the body, and add no series', async () => {
    const before = await scrape();
    // A body that names a live pipeline does not write into its series.
    expect((await post('/execute', adhoc('complimentary_items'))).status).toBe(200);
    const first = await scrape();
    for (let i = 0; i < 20; i++) expect((await post('/execute', adhoc(`random_${i}_${Math.random().toString(36).slice(2)}`))).status).toBe(200);
    const after = await scrape();
    const d = (name: string, l: Record<string, string>): number => value(after, name, l) - value(before, name, l);
    expect(d('airmail_requests_total', { pipeline: 'complimentary_items' })).toBe(0);
    expect(d('airmail_operator_duration_seconds_count', { pipeline: 'complimentary_items' })).toBe(0);
    expect(d('airmail_requests_total', { pipeline: '_execute', status: '200' })).toBe(21);
    expect(d('airmail_empty_results_total', { pipeline: 'complimentary_items' })).toBe(0);
    // Step labels are the operators that ran, not the names in the body.
    const steps = new Set([...after.matchAll(/airmail_operator_duration_seconds_count\{pipeline="_execute",step="([^"]*)"/g)].map((m) => m[1]));
    expect([...steps].sort()).toEqual(['Limit', 'Lookup']);
    // 20 more names made no new series.
    expect(after.split('\n').length).toBe(first.split('\n').length);
    const stats = (await (await request(`${srv.url}/ui/stats`)).body.json()) as { pipelines: Rec; operators: { pipeline: string }[]; other: Rec };
    expect(Object.keys(stats.pipelines).some((p) => p.startsWith('random_') || p === '_execute')).toBe(false);
    expect(stats.operators.some((o) => o.pipeline === '_execute')).toBe(false);
    expect(stats.other).toHaveProperty('_execute');
  });

  it('counts front-cache hits and stale serves made inside the workers, per source and layer', async () => {
    const before = await scrape();
    for (let i = 0; i < 3; i++) expect((await post('/pipelines/fresh_items?debug=true', '{"k":"a"}')).status).toBe(200);
    expect((await post('/pipelines/stale_items?debug=true', '{"k":"a"}')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 20)); // past its 1 ms ttl: the next lookup is stale
    expect((await post('/pipelines/stale_items?debug=true', '{"k":"a"}')).status).toBe(200);
    const after = await scrape();
    const d = (l: Record<string, string>): number => value(after, 'airmail_cache_requests_total', l) - value(before, 'airmail_cache_requests_total', l);
    // The source label is the operator and the URL without its query.
    const fresh = /source="(HttpSource [^"]*\/items)"/.exec(after)![1]!;
    const stale = /source="(HttpSource [^"]*\/stale)"/.exec(after)![1]!;
    expect(d({ source: fresh, layer: 'front', result: 'miss' })).toBe(1);
    expect(d({ source: fresh, layer: 'front', result: 'hit' })).toBe(2);
    expect(d({ source: fresh, layer: 'shared', result: 'miss' })).toBe(1);
    expect(d({ source: stale, layer: 'front', result: 'miss' })).toBe(1);
    expect(d({ source: stale, layer: 'front', result: 'stale' })).toBe(1);
  });

  it('bad requests are counted with their status and code and logged (unknown names under _unknown)', async () => {
    const before = await scrape();
    lines.length = 0;
    expect((await post('/pipelines/complimentary_items', '{"client_id": 17,')).status).toBe(400);
    expect((await post('/pipelines/complimentary_items?debug=true', '{"client_id": 17,')).status).toBe(400);
    expect((await post('/pipelines/no_such_pipeline_1', '{}')).status).toBe(404);
    expect((await post('/pipelines/no_such_pipeline_2', '{}')).status).toBe(404);
    expect((await post('/pipelines/complimentary_items', 'x'.repeat(2 * 1024 * 1024))).status).toBe(413);
    expect((await post('/pipelines/complimentary_items', '<a/>', { 'content-type': 'application/xml' })).status).toBe(415);
    const after = await scrape();
    const d = (name: string, l: Record<string, string>): number => value(after, name, l) - value(before, name, l);
    // The debug request's refusal is a diagnostic (airmail_diagnostic_requests_total), not serving traffic.
    expect(d('airmail_requests_total', { pipeline: 'complimentary_items', status: '400' })).toBe(1);
    expect(d('airmail_errors_total', { pipeline: 'complimentary_items', code: 'BODY_UNPARSABLE' })).toBe(1);
    expect(d('airmail_diagnostic_requests_total', { pipeline: 'complimentary_items', kind: 'debug', status: '400' })).toBe(1);
    expect(d('airmail_requests_total', { pipeline: '_unknown', status: '404' })).toBe(2);
    expect(d('airmail_errors_total', { pipeline: '_unknown', code: 'PIPELINE_NOT_FOUND' })).toBe(2);
    expect(after).not.toContain('no_such_pipeline');
    expect(d('airmail_requests_total', { pipeline: 'complimentary_items', status: '413' })).toBe(1);
    expect(d('airmail_errors_total', { pipeline: 'complimentary_items', code: 'UNSUPPORTED_MEDIA_TYPE' })).toBe(1);
    const logged = records().filter((r) => r['level'] === 'warn').map((r) => r['status']).sort();
    expect(logged).toEqual([400, 400, 404, 404, 413, 415]);
  });

  it('a failed source shows in debug output as a failed step, is logged as a warning and counted as an error', async () => {
    const before = await scrape();
    lines.length = 0;
    const r = await post('/pipelines/failing_items?debug=true', '{"k":"z"}');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ error: true, code: 'SOURCE_FAILED' });
    const steps = (r.body['debug'] as { steps: Rec[] }).steps;
    const failed = steps.find((s) => s['step'] === 'HttpSource');
    expect(failed).toMatchObject({ failed: true, code: 'SOURCE_FAILED' });
    expect(String(failed!['error'])).toMatch(/HttpSource\(.*\) failed/);
    // The request's line (the step's own debug line carries the code too).
    const line = records().find((x) => x['pipeline'] === 'failing_items' && x['code'] === 'SOURCE_FAILED' && x['status'] !== undefined);
    expect(line?.['level']).toBe('warn');
    expect(records().find((x) => x['level'] === 'debug' && x['step'] === 'HttpSource')).toMatchObject({ code: 'SOURCE_FAILED' });
    // The debug run is a diagnostic; the same failure without debug is counted as an error.
    expect((await post('/pipelines/failing_items', '{"k":"z"}')).body).toMatchObject({ error: true, code: 'SOURCE_FAILED' });
    const after = await scrape();
    expect(value(after, 'airmail_errors_total', { pipeline: 'failing_items', code: 'SOURCE_FAILED' }) - value(before, 'airmail_errors_total', { pipeline: 'failing_items', code: 'SOURCE_FAILED' })).toBe(1);
    expect(value(after, 'airmail_diagnostic_requests_total', { pipeline: 'failing_items', kind: 'debug' }) - value(before, 'airmail_diagnostic_requests_total', { pipeline: 'failing_items', kind: 'debug' })).toBe(1);
  });

  it('every request gets an id: echoed in x-request-id and on its log lines', async () => {
    lines.length = 0;
    // The fast lane (plain POST), the app (debug) and an error answer.
    const a = await post('/pipelines/complimentary_items', '{"client_id": 17, "product_id": 42}', { 'x-request-id': 'lb-abc-123' });
    expect(a.headers['x-request-id']).toBe('lb-abc-123');
    const b = await post('/pipelines/complimentary_items?debug=1', '{"client_id": 17, "product_id": 42}');
    const bid = String(b.headers['x-request-id']);
    expect(bid).toMatch(/^[0-9a-f-]{36}$/);
    const c = await post('/pipelines/nope', '{}', { 'x-request-id': 'bad id with spaces "quoted"' });
    expect(String(c.headers['x-request-id'])).toMatch(/^[0-9a-f-]{36}$/);
    const recs = records();
    const ofA = recs.filter((x) => x['request_id'] === 'lb-abc-123');
    expect(ofA.some((x) => x['level'] === 'info')).toBe(true);
    expect(ofA.filter((x) => x['level'] === 'debug').length).toBeGreaterThan(0);
    expect(recs.filter((x) => x['request_id'] === bid).length).toBeGreaterThan(1);
    expect(recs.some((x) => x['request_id'] === c.headers['x-request-id'] && x['status'] === 404)).toBe(true);
    expect((await request(`${srv.url}/health`)).headers['x-request-id']).toBeTruthy();
  });

  it('lists models loaded from config files in airmail_model_info', async () => {
    const text = await scrape();
    expect(text).toMatch(/airmail_model_info\{model="models\/psale_demo\.onnx",version="[0-9a-f]{12}"\} 1/);
  });

  it('an in-place reload writes a JSON line naming pipeline and version; a rejected one a warn line with its errors', async () => {
    lines.length = 0;
    const file = join(dir, 'fresh_items.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('n: 2', 'n: 1'));
    const until = async (fn: () => boolean): Promise<void> => {
      for (let i = 0; i < 200 && !fn(); i++) await new Promise((r) => setTimeout(r, 50));
    };
    const applied = (): Rec | undefined => records().find((x) => String(x['msg']).startsWith('config reload applied') && x['pipeline'] === 'fresh_items');
    await until(() => applied() !== undefined);
    expect(applied()).toMatchObject({ level: 'info', pipeline: 'fresh_items', version: srv.engine.pipeline('fresh_items').version, file: 'fresh_items.yaml' });
    await writeFile(file, 'pipeline: [this is: not, valid');
    const rejected = (): Rec | undefined => records().find((x) => String(x['msg']).startsWith('config reload rejected'));
    await until(() => rejected() !== undefined);
    expect(rejected()).toMatchObject({ level: 'warn', files: ['fresh_items.yaml'] });
    expect((rejected()!['errors'] as string[]).length).toBeGreaterThan(0);
  });

  it.each(['?debug=1', '?debug=TRUE', '?debug', '?debug=yes'])('accepts %s as asking for debug output', async (q) => {
    const r = await post(`/pipelines/complimentary_items${q}`, '{"client_id": 17, "product_id": 42}');
    expect(r.body['debug']).toBeDefined();
  });

  it('shows a model file parameter relative to the configs directory, not as an absolute path', async () => {
    lines.length = 0;
    const r = await post('/pipelines/complimentary_items?debug=true', '{"client_id": 17, "product_id": 42}');
    const psale = (r.body['debug'] as { steps: Rec[] }).steps.find((s) => s['step'] === 'PsaleScore')!;
    expect((psale['parameters'] as Rec)['model']).toBe('models/psale_demo.onnx');
    // The model runs from a pinned copy in this process's temp folder: shown by its file name, as explain shows it.
    expect((psale['parameters'] as Rec)['pinned']).toMatch(/^[0-9a-f]{16}-psale_demo\.onnx$/);
    expect(JSON.stringify(r.body)).not.toContain(tmpdir());
    const line = records().find((x) => x['level'] === 'debug' && x['step'] === 'PsaleScore')!;
    expect(line['msg']).toMatch(/^PsaleScore\(model=models\/psale_demo\.onnx, /);
    expect(lines.join('')).not.toContain(dir);
  });

  it('accepts x-airmail-debug: 1', async () => {
    const r = await post('/pipelines/complimentary_items', '{"client_id": 17, "product_id": 42}', { 'x-airmail-debug': '1' });
    expect(r.body['debug']).toBeDefined();
  });
});
