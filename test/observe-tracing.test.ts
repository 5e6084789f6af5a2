/**
 * Tracing end to end: the engine exports OTLP/HTTP (JSON) to a collector
 * stand-in (engine/observe/otlp-sink.ts) that decodes the payload. One trace per request, a span per
 * operator made in the pool workers (rows in/out attributes) joined under the
 * request span, W3C traceparent honoured, and a dead collector costs spans
 * (dropped and counted), never requests.
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { attribute as attr, startOtlpSink, type OtlpSink, type OtlpSpan } from '../engine/observe/otlp-sink.js';
import { BoundedSpanProcessor, Tracing } from '../engine/observe/tracing.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let col: OtlpSink;
let tracing: Tracing;
let srv: RunningServer;
let upstream: Server;

async function run(headers: Record<string, string> = {}): Promise<number> {
  const r = await request(`${srv.url}/pipelines/complimentary_items`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ client_id: 17, product_id: 42 }) });
  await r.body.text();
  return r.statusCode;
}

const STEPS = ['AvailableInventory', 'MatchClientSize', 'PreviouslyPurchased', 'Hydrate', 'MatchDepartment', 'PsaleScore', 'DiverseSample', 'Sort'];

describe('OpenTelemetry traces', () => {
  beforeAll(async () => {
    col = await startOtlpSink();
    tracing = new Tracing({ url: col.url, delayMs: 20, timeoutMs: 500 });
    upstream = createServer((req, res) => {
      if (req.url?.startsWith('/fail')) res.writeHead(500).end('down');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('[{"item_id": 1}, {"item_id": 2}]');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const dir = await demoConfigs();
    await writeFile(join(dir, 'remote_items.yaml'), `pipeline:
  name: remote_items
  item_type: item_id
  initialization:
    includes:
    - {name: HttpSource, parameters: {url: 'http://127.0.0.1:${(upstream.address() as AddressInfo).port}/items', column: item_id, ttl_ms: 60000}}
  return: [item_id]
`);
    await writeFile(join(dir, 'failing_items.yaml'), `pipeline:
  name: failing_items
  item_type: item_id
  initialization:
    includes:
    - {name: HttpSource, parameters: {url: 'http://127.0.0.1:${(upstream.address() as AddressInfo).port}/fail', column: item_id, retries: 0}}
  return: [item_id]
`);
    // Two remote sources that run at once: each fetch must land under its own step.
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    await writeFile(join(dir, 'two_remote.yaml'), `pipeline:
  name: two_remote
  item_type: item_id
  initialization:
    includes:
    - {name: HttpSource, parameters: {url: '${base}/items?a', column: item_id}}
    - {name: HttpSource, parameters: {url: '${base}/other', column: item_id}}
  return: [item_id]
`);
    srv = await server({ configs: dir, threads: 2, observe: new Observability({ tracing, metrics: false }) });
  });
  afterAll(async () => {
    await srv?.close();
    await tracing?.shutdown();
    await col?.close();
    upstream?.close();
  });

  it('exports one trace per request with a span per operator made in the workers', async () => {
    const parentTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentSpan = '00f067aa0ba902b7';
    expect(await run({ traceparent: `00-${parentTrace}-${parentSpan}-01` })).toBe(200);
    expect(await run()).toBe(200);
    await tracing.forceFlush();
    expect(col.stats.rejected).toBe(0);
    const byTrace = new Map<string, OtlpSpan[]>();
    for (const s of col.spans) byTrace.set(s.traceId, [...(byTrace.get(s.traceId) ?? []), s]);
    expect(byTrace.size).toBe(2);
    expect(byTrace.has(parentTrace)).toBe(true);
    let full = 0;
    for (const [traceId, spans] of byTrace) {
      const roots = spans.filter((s) => s.kind === 2); // SERVER
      expect(roots, traceId).toHaveLength(1);
      const root = roots[0]!;
      expect(root.name).toBe('pipeline complimentary_items');
      expect(attr(root, 'airmail.items')).toBe(10);
      if (traceId === parentTrace) expect(root.parentSpanId).toBe(parentSpan);
      else expect(root.parentSpanId ?? '').toBe('');
      const exec = spans.find((s) => s.name === 'execute')!;
      expect(exec.parentSpanId).toBe(root.spanId);
      const ops = spans.filter((s) => s.parentSpanId === exec.spanId && s.name !== 'memo hit');
      // A worker that already holds this request's candidates (the memo) skips includes and pre-scoring steps, and says so.
      const memo = spans.find((s) => s.name === 'memo hit');
      const skipped = memo ? String(attr(memo, 'airmail.skipped_steps')).split(', ') : [];
      expect(ops.map((s) => attr(s, 'airmail.step')).sort()).toEqual(STEPS.filter((s) => !skipped.includes(s)).sort());
      for (const s of ops) {
        expect(typeof attr(s, 'airmail.rows_in'), s.name).toBe('number');
        expect(typeof attr(s, 'airmail.rows_out'), s.name).toBe('number');
        expect(attr(s, 'airmail.parameters'), s.name).toBeTypeOf('string');
      }
      if (!memo) full++;
      const md = ops.find((s) => attr(s, 'airmail.step') === 'MatchDepartment');
      if (md) expect(attr(md, 'airmail.rows_out') as number).toBeLessThan(attr(md, 'airmail.rows_in') as number);
      const inv = ops.find((s) => attr(s, 'airmail.step') === 'AvailableInventory');
      if (inv) expect(attr(inv, 'airmail.phase')).toBe('include');
      if (inv) expect(attr(inv, 'airmail.rows_out') as number).toBeGreaterThan(0);
      const ds = ops.find((s) => attr(s, 'airmail.step') === 'DiverseSample')!;
      expect(attr(ds, 'airmail.rows_out')).toBe(10);
      const scorer = ops.find((s) => attr(s, 'airmail.step') === 'PsaleScore')!;
      const model = spans.find((s) => s.name === 'model')!;
      expect(model.parentSpanId).toBe(scorer.spanId);
      // The demo's file model runs from a pinned copy in this process's temp folder: the span names it
      // as airmail_model_info and debug parameters do, by its path under the configs directory.
      expect(attr(model, 'airmail.model')).toBe('models/psale_demo.onnx');
      expect(String(attr(model, 'airmail.model_version'))).toMatch(/^[0-9a-f]{12}$/);
    }
    // The first request on a fresh worker cannot hit the memo: every operator has its span.
    expect(full).toBeGreaterThanOrEqual(1);
  });

  it('gives the request span the HTTP semantic-convention attributes', async () => {
    const before = col.spans.length;
    expect(await run()).toBe(200);
    const r = await request(`${srv.url}/pipelines/complimentary_items?client_id=17&product_id=42`);
    expect(r.statusCode).toBe(200);
    await r.body.text();
    await tracing.forceFlush();
    const reqs = col.spans.slice(before).filter((s) => s.name === 'pipeline complimentary_items');
    expect(reqs).toHaveLength(2);
    const byMethod = new Map(reqs.map((s) => [attr(s, 'http.request.method'), s]));
    for (const method of ['POST', 'GET']) {
      const s = byMethod.get(method);
      expect(s, method).toBeDefined();
      expect(s!.kind).toBe(2); // SPAN_KIND_SERVER
      expect(attr(s!, 'http.route')).toBe('/pipelines/:name');
      expect(attr(s!, 'url.path')).toBe('/pipelines/complimentary_items');
      expect(attr(s!, 'http.response.status_code')).toBe(200);
    }
  });

  it('makes a span per remote source fetch with the cache outcome', async () => {
    const before = col.spans.length;
    for (let i = 0; i < 6; i++) {
      // debug runs the literal plan: the source is fetched every time (not answered by the candidate memo).
      const r = await request(`${srv.url}/pipelines/remote_items?debug=true`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(r.statusCode).toBe(200);
      await r.body.text();
    }
    await tracing.forceFlush();
    const fetches = col.spans.slice(before).filter((s) => s.name === 'remote fetch');
    expect(fetches).toHaveLength(6);
    const outcomes = fetches.map((s) => attr(s, 'airmail.cache'));
    // Each worker's front cache misses once, then hits (ttl 60 s).
    expect(outcomes.filter((o) => o === 'miss').length).toBeGreaterThanOrEqual(1);
    expect(outcomes.filter((o) => o === 'miss').length).toBeLessThanOrEqual(2);
    expect(outcomes.filter((o) => o === 'hit').length).toBeGreaterThanOrEqual(4);
    for (const s of fetches) {
      expect(String(attr(s, 'airmail.source'))).toContain('HttpSource');
      expect(attr(s, 'airmail.rows_out')).toBe(2);
    }
  });

  it('issue: a remote fetch span is a child of the source step that made it, not of execute', async () => {
    const before = col.spans.length;
    const r = await request(`${srv.url}/pipelines/two_remote?debug=true`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(r.statusCode).toBe(200);
    await r.body.text();
    await tracing.forceFlush();
    const spans = col.spans.slice(before);
    const fetches = spans.filter((s) => s.name === 'remote fetch');
    const sources = spans.filter((s) => s.name.startsWith('source '));
    expect(fetches).toHaveLength(2);
    expect(sources).toHaveLength(2);
    for (const f of fetches) {
      const path = String(attr(f, 'airmail.source')).endsWith('/other') ? '/other' : '/items';
      const step = sources.find((s) => String(attr(s, 'airmail.parameters')).includes(path))!;
      expect(f.parentSpanId, path).toBe(step.spanId);
    }
    expect(new Set(fetches.map((f) => f.parentSpanId)).size).toBe(2);
  });

  it('issue: a 4xx refusal got no span; it is the request span, a child of the incoming traceparent, with the error', async () => {
    const before = col.spans.length;
    const trace = '5bf92f3577b34da6a3ce929d0e0e4737';
    const r = await request(`${srv.url}/pipelines/complimentary_items`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent: `00-${trace}-00f067aa0ba902b8-01` }, body: '{"client_id": ' });
    expect(r.statusCode).toBe(400);
    await r.body.text();
    await tracing.forceFlush();
    const spans = col.spans.slice(before).filter((s) => s.traceId === trace);
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({ name: 'pipeline complimentary_items', kind: 2, parentSpanId: '00f067aa0ba902b8' });
    expect(spans[0]!.status?.code).toBe(2);
    expect(attr(spans[0]!, 'http.response.status_code')).toBe(400);
    expect(attr(spans[0]!, 'airmail.error_code')).toBe('BODY_UNPARSABLE');
    expect(attr(spans[0]!, 'url.path')).toBe('/pipelines/complimentary_items');
  });

  it('a failed source has its span, with an error status and the reason', async () => {
    const before = col.spans.length;
    const r = await request(`${srv.url}/pipelines/failing_items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(r.statusCode).toBe(200);
    expect(await r.body.json()).toMatchObject({ error: true, code: 'SOURCE_FAILED' });
    await tracing.forceFlush();
    const spans = col.spans.slice(before);
    const failed = spans.find((s) => s.name === 'source HttpSource')!;
    expect(failed).toBeDefined();
    expect(failed.status?.code).toBe(2);
    expect(String(failed.status?.message)).toMatch(/HttpSource\(.*\) failed/);
    expect(attr(failed, 'airmail.error_code')).toBe('SOURCE_FAILED');
    expect(failed.parentSpanId).toBe(spans.find((s) => s.name === 'execute')!.spanId);
  });

  it('keeps the span of a remote fetch that failed: cache outcome, error status and reason', async () => {
    const before = col.spans.length;
    const r = await request(`${srv.url}/pipelines/failing_items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(await r.body.json()).toMatchObject({ error: true, code: 'SOURCE_FAILED' });
    await tracing.forceFlush();
    const fetch = col.spans.slice(before).find((s) => s.name === 'remote fetch');
    expect(fetch).toBeDefined();
    expect(attr(fetch!, 'airmail.cache')).toBe('miss');
    expect(String(attr(fetch!, 'airmail.source'))).toContain('HttpSource');
    expect(attr(fetch!, 'airmail.rows_out')).toBe(0);
    expect(fetch!.status?.code).toBe(2);
    expect(String(fetch!.status?.message)).toMatch(/500/);
    expect(fetch!.parentSpanId).toBe(col.spans.slice(before).find((s) => s.name === 'source HttpSource')!.spanId);
  });

  it('records nothing for a request whose traceparent says not sampled', async () => {
    const before = col.spans.length;
    expect(await run({ traceparent: '00-11111111111111111111111111111111-2222222222222222-00' })).toBe(200);
    await tracing.forceFlush();
    expect(col.spans.length).toBe(before);
    expect(col.spans.some((s) => s.traceId === '11111111111111111111111111111111')).toBe(false);
  });

  it('keeps serving when the collector is gone: spans dropped and counted', async () => {
    await col.close();
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) expect(await run()).toBe(200);
    expect(Date.now() - t0).toBeLessThan(5_000);
    await tracing.forceFlush();
    expect(tracing.processor.dropped.export_failed).toBeGreaterThan(0);
    const m = await request(`${srv.url}/metrics`);
    expect(await m.body.text()).toMatch(/airmail_trace_spans_dropped_total\{reason="export_failed"\} [1-9]/);
  });
});

describe('BoundedSpanProcessor', () => {
  const span = (i: number): ReadableSpan => ({ spanContext: () => ({ traceId: 'a'.repeat(32), spanId: i.toString(16).padStart(16, '0'), traceFlags: 1 }), resource: {} } as unknown as ReadableSpan);

  it('drops and counts spans past the queue bound while an export hangs, without waiting', () => {
    let exports = 0;
    const hanging: SpanExporter = { export: () => { exports++; }, shutdown: async () => {} };
    const p = new BoundedSpanProcessor(hanging, { maxQueue: 4, maxBatch: 2, delayMs: 10_000 });
    for (let i = 0; i < 10; i++) p.onEnd(span(i));
    // First batch of 2 left for the (hanging) exporter; 4 more fill the queue; the other 4 are dropped.
    expect(p.dropped.queue_full).toBe(4);
    expect(p.exported).toBe(0);
  });

  it('reports failed exports (a dead collector) at once, then at most once a minute with the count', async () => {
    let now = 0;
    const reports: unknown[] = [];
    const failing: SpanExporter = { export: (_s, cb) => cb({ code: 1, error: new Error('connect ECONNREFUSED') }), shutdown: async () => {} };
    const p = new BoundedSpanProcessor(failing, { maxQueue: 100, maxBatch: 1, delayMs: 10_000, now: () => now });
    p.onExportFailure = (f) => reports.push(f);
    for (let i = 0; i < 5; i++) {
      p.onEnd(span(i));
      await p.forceFlush();
      now += 1000;
    }
    expect(reports).toEqual([{ exports: 1, spans: 1, error: 'connect ECONNREFUSED', first: true }]);
    now = 61_000;
    p.onEnd(span(9));
    await p.forceFlush();
    expect(reports).toHaveLength(2);
    expect(reports[1]).toEqual({ exports: 5, spans: 5, error: 'connect ECONNREFUSED', first: false });
  });

  it('logs a warning when exports fail', async () => {
    const lines: Record<string, unknown>[] = [];
    const exporter: SpanExporter = { export: (_s, cb) => cb({ code: 1, error: new Error('timeout') }), shutdown: async () => {} };
    const t = new Tracing({ exporter, delayMs: 10_000 });
    const { Logger } = await import('../engine/observe/logs.js');
    new Observability({ tracing: t, metrics: false, logger: new Logger({ level: 'warn', sink: { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) }, pretty: false }) });
    t.processor.onEnd(span(1));
    await t.forceFlush();
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', exports_failed: 1, spans_dropped: 1, error: 'timeout' })]);
    expect(String(lines[0]!['msg'])).toMatch(/^trace export to http:\/\/localhost:4318\/v1\/traces \(http\/json\) failed, spans are dropped/);
    await t.shutdown();
  });

  it('registers no global context manager: the default one turns on promise hooks, a cost on every await, traced or not', async () => {
    // The first describe block started the SDK (new Tracing) in this process; start one more to be sure.
    const t = new Tracing({ exporter: { export: (_s, cb) => cb({ code: 0 }), shutdown: async () => {} }, delayMs: 10_000 });
    const { context, createContextKey, ROOT_CONTEXT } = await import('@opentelemetry/api');
    const key = createContextKey('airmail.test');
    // With AsyncLocalStorageContextManager registered, the value set by with() would be active inside it.
    expect(context.with(ROOT_CONTEXT.setValue(key, 1), () => context.active().getValue(key))).toBeUndefined();
    await t.shutdown();
  });

  it('skips spans that are not sampled', () => {
    const p = new BoundedSpanProcessor({ export: (_s, cb) => cb({ code: 0 }), shutdown: async () => {} }, { maxQueue: 1 });
    const unsampled = { spanContext: () => ({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 0 }) } as unknown as ReadableSpan;
    for (let i = 0; i < 3; i++) p.onEnd(unsampled);
    expect(p.dropped.queue_full).toBe(0);
  });
});
