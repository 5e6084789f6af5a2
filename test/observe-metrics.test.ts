/**
 * GET /metrics: parses as Prometheus text (0.0.4) and moves as requests,
 * empty results, errors, reloads and cache misses happen. Also the request
 * and per-step log lines, in the seed's wording.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Logger } from '../engine/observe/logs.js';
import { Observability } from '../engine/observe/index.js';
import { EngineMetrics, recordModelSwap, metrics as processMetrics } from '../engine/observe/metrics.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

interface Sample { name: string; labels: Record<string, string>; value: number }

/** A strict reader of the text exposition format: every sample belongs to a declared family. */
function parseProm(text: string): Sample[] {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      expect(m, line).not.toBeNull();
      if (m![1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(m![3]);
        expect(types.has(m![2]!), `TYPE twice for ${m![2]}`).toBe(false);
        types.set(m![2]!, m![3]!);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    expect(m, line).not.toBeNull();
    const labels: Record<string, string> = {};
    const body = m![3] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/g;
    let consumed = 0;
    for (let l = re.exec(body); l; l = re.exec(body)) {
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      consumed += l[0].length;
    }
    expect(consumed, line).toBe(body.length);
    const name = m![1]!;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    expect(types.has(family), `no TYPE for ${name}`).toBe(true);
    samples.push({ name, labels, value: Number(m![4]!.replace('+Inf', 'Infinity')) });
  }
  // Histograms: cumulative buckets ending in +Inf = count.
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const s of samples.filter((x) => x.name === `${family}_bucket`)) {
      const { le, ...rest } = s.labels;
      void le;
      const k = JSON.stringify(rest);
      series.set(k, [...(series.get(k) ?? []), s]);
    }
    for (const [k, buckets] of series) {
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
      expect(buckets[buckets.length - 1]!.labels['le']).toBe('+Inf');
      const count = samples.find((x) => x.name === `${family}_count` && JSON.stringify(x.labels) === k);
      expect(count?.value).toBe(buckets[buckets.length - 1]!.value);
    }
  }
  return samples;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

let srv: RunningServer;
let dir: string;
let upstream: Server;
let upstreamCalls = 0;
const lines: string[] = [];

async function scrape(): Promise<Sample[]> {
  const r = await request(`${srv.url}/metrics`);
  expect(r.statusCode).toBe(200);
  expect(String(r.headers['content-type'])).toContain('text/plain; version=0.0.4');
  return parseProm(await r.body.text());
}

async function post(path: string, body: unknown): Promise<number> {
  const r = await request(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await r.body.text();
  return r.statusCode;
}

async function until(fn: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const UPSTREAM = (port: number): string => `
pipeline:
  name: remote_items
  item_type: item_id
  initialization:
    includes:
    - name: HttpSource
      parameters: {url: 'http://127.0.0.1:${port}/items?k={k}', vars: {k: $k}, column: item_id, ttl_ms: 60000}
  operations:
  - {name: Limit, parameters: {n: 2}}
  return: [item_id]
`;

describe('GET /metrics and logs', () => {
  beforeAll(async () => {
    upstream = createServer((_req, res) => {
      upstreamCalls++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ item_id: 1 }, { item_id: 2 }, { item_id: 3 }]));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    dir = await demoConfigs();
    await writeFile(join(dir, 'remote_items.yaml'), UPSTREAM((upstream.address() as AddressInfo).port));
    const logger = new Logger({ level: 'debug', sink: { write: (s: string) => lines.push(s) }, pretty: false });
    srv = await server({ configs: dir, threads: 2, observe: new Observability({ logger }) });
    expect(srv.startErrors).toEqual([]);
  });
  afterAll(async () => {
    await srv?.close();
    upstream?.close();
  });

  it('counts requests and latency per pipeline and status, and per-step latency and rows', async () => {
    const before = await scrape();
    for (let i = 0; i < 3; i++) expect(await post('/pipelines/complimentary_items', { client_id: 17, product_id: 42 })).toBe(200);
    const after = await scrape();
    const l = { pipeline: 'complimentary_items', status: '200' };
    expect(value(after, 'airmail_requests_total', l) - value(before, 'airmail_requests_total', l)).toBe(3);
    expect(value(after, 'airmail_request_duration_seconds_count', l) - value(before, 'airmail_request_duration_seconds_count', l)).toBe(3);
    const step = { pipeline: 'complimentary_items', step: 'DiverseSample', operator: 'DiverseSample', phase: 'operation' };
    expect(value(after, 'airmail_operator_duration_seconds_count', step) - value(before, 'airmail_operator_duration_seconds_count', step)).toBe(3);
    expect(value(after, 'airmail_operator_rows_out_sum', step) - value(before, 'airmail_operator_rows_out_sum', step)).toBe(30);
    expect(value(after, 'airmail_pool_threads')).toBe(2);
    expect(value(after, 'airmail_pool_queue_depth')).toBe(0);
    expect(after.some((s) => s.name === 'airmail_pool_utilization')).toBe(true);
    expect(value(after, 'airmail_pool_worker_failures_total')).toBe(0);
    expect(after.some((s) => s.name === 'airmail_pool_worker_failures_total')).toBe(true);
    expect(after.find((s) => s.name === 'airmail_pipeline_info' && s.labels['pipeline'] === 'complimentary_items')?.labels['version']).toMatch(/\w+/);
  });

  it('counts errors and empty results with their reason', async () => {
    const before = await scrape();
    expect(await post('/pipelines/complimentary_items', { client_id: 'x' })).toBe(422);
    expect(await post('/pipelines/complimentary_items', { client_id: 99_999_999, product_id: 42 })).toBe(200);
    const after = await scrape();
    const d = (name: string, l: Record<string, string>): number => value(after, name, l) - value(before, name, l);
    expect(d('airmail_requests_total', { pipeline: 'complimentary_items', status: '422' })).toBe(1);
    expect(d('airmail_errors_total', { pipeline: 'complimentary_items', code: 'INPUT_INVALID' })).toBe(1);
    expect(d('airmail_empty_results_total', { pipeline: 'complimentary_items', reason: 'context' })).toBe(1);
  });

  it('counts cache misses and hits of a remote source', async () => {
    const before = await scrape();
    const calls = upstreamCalls;
    expect(await post('/pipelines/remote_items', { k: 'a' })).toBe(200);
    expect(await post('/pipelines/remote_items', { k: 'a' })).toBe(200);
    expect(await post('/pipelines/remote_items', { k: 'b' })).toBe(200);
    const after = await scrape();
    expect(upstreamCalls - calls).toBe(2);
    const d = (l: Record<string, string>): number => value(after, 'airmail_cache_requests_total', l) - value(before, 'airmail_cache_requests_total', l);
    expect(d({ layer: 'shared', result: 'miss' })).toBe(2);
    // A request that ran the source looked in its worker's front cache first (hit there, or missed
    // and asked the broker); the repeat of k=a may instead be answered by the candidate memo.
    expect(d({ layer: 'front' })).toBeGreaterThanOrEqual(2);
    expect(d({ layer: 'front' })).toBeLessThanOrEqual(3);
    expect(d({ layer: 'shared' })).toBe(d({ layer: 'front', result: 'miss' }));
    expect(after.filter((s) => s.name === 'airmail_cache_requests_total').every((s) => ['hit', 'miss', 'stale'].includes(s.labels['result']!))).toBe(true);
  });

  it('counts config reloads applied and rejected', async () => {
    const before = await scrape();
    const file = join(dir, 'remote_items.yaml');
    await writeFile(file, UPSTREAM((upstream.address() as AddressInfo).port).replace('n: 2', 'n: 1'));
    await until(async () => value(await scrape(), 'airmail_config_reloads_total', { result: 'applied' }) > value(before, 'airmail_config_reloads_total', { result: 'applied' }));
    await writeFile(file, 'pipeline: [this is: not, valid');
    await until(async () => value(await scrape(), 'airmail_config_reloads_total', { result: 'rejected' }) > value(before, 'airmail_config_reloads_total', { result: 'rejected' }));
    expect(value(await scrape(), 'airmail_config_rejections')).toBeGreaterThanOrEqual(1);
  });

  it('shows model versions in service and counts swaps', () => {
    const m = new EngineMetrics();
    m.modelInService('psale', '1');
    m.modelInService('psale', '1');
    m.modelInService('psale', '2');
    const s = parseProm(m.registry.render());
    expect(s.filter((x) => x.name === 'airmail_model_info').map((x) => x.labels)).toEqual([{ model: 'psale', version: '2' }]);
    expect(value(s, 'airmail_model_swaps_total', { model: 'psale' })).toBe(1);
    // A live swap counts even when no scrape recorded the version it replaced.
    const fresh = new EngineMetrics();
    fresh.modelSwapped('psale', 'psale@2', 'psale@3');
    const f = parseProm(fresh.registry.render());
    expect(value(f, 'airmail_model_swaps_total', { model: 'psale' })).toBe(1);
    expect(f.filter((x) => x.name === 'airmail_model_info').map((x) => x.labels)).toEqual([{ model: 'psale', version: 'psale@3' }]);
    recordModelSwap('hook_model', '7');
    expect(processMetrics.registry.render()).toContain('airmail_model_info{model="hook_model",version="7"} 1');
  });

  it('writes one JSON line per request and one per step at debug level, in the seed wording', async () => {
    lines.length = 0;
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const r = await request(`${srv.url}/pipelines/complimentary_items`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent: tp }, body: JSON.stringify({ client_id: 17, product_id: 42 }) });
    await r.body.text();
    const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const req = recs.find((x) => x['level'] === 'info' && x['pipeline'] === 'complimentary_items')!;
    expect(req['msg']).toMatch(/^complimentary_items returned 10 items in [\d.]+ms$/);
    expect(req).toMatchObject({ trace_id: '0af7651916cd43dd8448eb211c80319c', status: 200, items: 10 });
    expect(typeof req['version']).toBe('string');
    const steps = recs.filter((x) => x['level'] === 'debug');
    expect(steps.length).toBeGreaterThanOrEqual(4);
    for (const s of steps) expect(s).toMatchObject({ trace_id: '0af7651916cd43dd8448eb211c80319c', pipeline: 'complimentary_items' });
    const ds = steps.find((x) => x['step'] === 'DiverseSample')!;
    expect(ds['msg']).toMatch(/^DiverseSample\(n=10, maximize=psale_score, by=product_id\) reduced \d+ items to 10 items in [\d.]+ms$/);
    const psale = steps.find((x) => x['phase'] === 'score');
    expect(psale?.['msg']).toMatch(/scored \d+ items in/);
    lines.length = 0;
    await post('/pipelines/complimentary_items', { client_id: 99_999_999, product_id: 42 });
    const empty = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((x) => x['level'] === 'info')!;
    expect(empty['msg']).toMatch(/returned 0 items in [\d.]+ms: context 'client'/);
    expect(empty['reason']).toMatch(/context 'client'/);
  });

  it('words filter steps like the seed and is readable on a terminal', () => {
    const out: string[] = [];
    const log = new Logger({ level: 'debug', sink: { write: (s: string) => out.push(s), isTTY: true } });
    log.log('info', 'MatchDepartment(product_id=3) filtered 500 items to 51 items in 31ms', { pipeline: 'p', rows_in: 500 });
    expect(out[0]).toMatch(/INFO .*MatchDepartment\(product_id=3\) filtered 500 items to 51 items in 31ms.*pipeline=p rows_in=500/);
    expect(() => JSON.parse(out[0]!)).toThrow();
  });
});

describe('BufferedSink', () => {
  it('writes the lines of one event-loop turn at once, in order', async () => {
    const { BufferedSink } = await import('../engine/observe/logs.js');
    const writes: string[] = [];
    const sink = new BufferedSink({ write: (s: string) => writes.push(s) });
    sink.write('a\n');
    sink.write('b\n');
    expect(writes).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(writes).toEqual(['a\nb\n']);
    sink.write('x'.repeat(70_000));
    expect(writes).toHaveLength(2);
  });
});
