/**
 * Observability configured by the environment, as `airmail serve` runs it:
 * tracing is off unless OTEL_* asks, and with OTEL_EXPORTER_OTLP_ENDPOINT set
 * the served request's trace reaches the collector under the trace id its
 * JSON log line names.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { attribute, startOtlpSink, type OtlpSink } from '../engine/observe/otlp-sink.js';
import { encodedSpans, encodeRecord, encodeRequest, otlpConfig } from '../engine/observe/otlp-json.js';
import { BoundedSpanProcessor } from '../engine/observe/tracing.js';
import { Tracing, tracingWanted } from '../engine/observe/tracing.js';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { serveProcess } from './helpers.js';

describe('tracingWanted', () => {
  it('is off by default and follows the standard variables', () => {
    expect(tracingWanted({})).toBe(false);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(true);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' })).toBe(true);
    expect(tracingWanted({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(tracingWanted({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(false);
    expect(tracingWanted({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(false);
  });
});

describe('airmail serve with OTEL_* and AIRMAIL_LOG_LEVEL', () => {
  let child: ChildProcess | undefined;
  let sink: OtlpSink | undefined;
  afterAll(async () => {
    child?.kill('SIGTERM');
    await sink?.close();
  });

  it('exports the request trace and logs one JSON line naming its trace id', async () => {
    sink = await startOtlpSink();
    const env = { AIRMAIL_LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint, OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_SERVICE_NAME: 'airmail-test' };
    const started = await serveProcess(env);
    child = started.child;
    const { url, lines } = started;
    const res = await fetch(`${url}/pipelines/complimentary_items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: 17, product_id: 42 }) });
    expect(res.status).toBe(200);
    const until = Date.now() + 20_000;
    const done = (): boolean => sink!.spans.some((s) => s.name === 'pipeline complimentary_items') && lines.some((l) => l.includes('"msg":"complimentary_items returned'));
    while (!done() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const root = sink.spans.find((s) => s.name === 'pipeline complimentary_items')!;
    expect(root).toBeDefined();
    expect(attribute(root, 'airmail.items')).toBe(10);
    expect(sink.spans.filter((s) => s.traceId === root.traceId && s.name.startsWith('operation ')).length).toBeGreaterThan(0);
    const log = JSON.parse(lines.find((l) => l.includes('"msg":"complimentary_items returned'))!) as Record<string, unknown>;
    expect(log).toMatchObject({ level: 'info', pipeline: 'complimentary_items', status: 200, items: 10, trace_id: root.traceId });
    // The whole stdout stream is JSON lines, the startup line included (it still says where it listens).
    for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', url: expect.stringMatching(/^http:\/\/localhost:\d+$/) });
    expect(typeof log['request_id']).toBe('string');
  });
});

describe('OTLP JSON encoding and exporter configuration', () => {
  it('reads endpoint, headers and timeout from the standard variables', () => {
    expect(otlpConfig({ env: {} })).toEqual({ url: 'http://localhost:4318/v1/traces', headers: {}, timeoutMs: 10_000 });
    expect(otlpConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/', OTEL_EXPORTER_OTLP_HEADERS: 'a=1, b=x%20y', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'a=2', OTEL_EXPORTER_OTLP_TIMEOUT: '500' } }))
      .toEqual({ url: 'http://c:4318/v1/traces', headers: { a: '2', b: 'x y' }, timeoutMs: 500 });
    expect(otlpConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1/x' } }).url).toBe('http://t:1/x');
  });

  it('encodes spans as an ExportTraceServiceRequest', () => {
    const resource = { attributes: { 'service.name': 'airmail' } };
    const span = {
      name: 'operation "Sort"', kind: 0, spanContext: () => ({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 }),
      parentSpanContext: { traceId: 'a'.repeat(32), spanId: 'c'.repeat(16), traceFlags: 1 },
      startTime: [1_700_000_000, 5], endTime: [1_700_000_001, 123_456_789], status: { code: 2, message: 'bad' },
      attributes: { s: 'x', i: 3, d: 0.5, b: true, arr: ['p', 'q'] }, droppedAttributesCount: 0, resource, instrumentationScope: { name: 'airmail' },
    } as unknown as ReadableSpan;
    const doc = JSON.parse(encodeRequest([span, span])) as { resourceSpans: { resource: unknown; scopeSpans: { scope: unknown; spans: Record<string, unknown>[] }[] }[] };
    expect(doc.resourceSpans).toHaveLength(1);
    expect(doc.resourceSpans[0]!.resource).toEqual({ attributes: [{ key: 'service.name', value: { stringValue: 'airmail' } }] });
    expect(doc.resourceSpans[0]!.scopeSpans[0]!.scope).toEqual({ name: 'airmail' });
    const s = doc.resourceSpans[0]!.scopeSpans[0]!.spans;
    expect(s).toHaveLength(2);
    expect(s[0]).toMatchObject({
      traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), parentSpanId: 'c'.repeat(16), name: 'operation "Sort"', kind: 1,
      startTimeUnixNano: '1700000000000000005', endTimeUnixNano: '1700000001123456789', status: { code: 2, message: 'bad' },
      attributes: [
        { key: 's', value: { stringValue: 'x' } }, { key: 'i', value: { intValue: 3 } }, { key: 'd', value: { doubleValue: 0.5 } },
        { key: 'b', value: { boolValue: true } }, { key: 'arr', value: { arrayValue: { values: [{ stringValue: 'p' }, { stringValue: 'q' }] } } },
      ],
    });
  });

  it('merges spans a worker encoded into the request of their resource and scope, counted span by span', () => {
    const resource = { attributes: { 'service.name': 'airmail' } };
    const scope = { name: 'airmail' };
    const rec = { traceId: 'a'.repeat(32), spanId: 'd'.repeat(16), parentSpanId: 'b'.repeat(16), name: 'operation Sort', startMs: 1_700_000_000_000.5, endMs: 1_700_000_000_002.25, attributes: { 'airmail.rows_in': 10, 'airmail.rows_out': 10 } };
    const pre = encodedSpans([encodeRecord(rec), encodeRecord({ ...rec, spanId: 'e'.repeat(16), error: 'boom' })].join(','), 2, { resource, instrumentationScope: scope } as unknown as ReadableSpan);
    const doc = JSON.parse(encodeRequest([pre])) as { resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[] };
    const spans = doc.resourceSpans[0]!.scopeSpans[0]!.spans;
    expect(spans).toHaveLength(2);
    expect(spans[0]).toMatchObject({ spanId: 'd'.repeat(16), parentSpanId: 'b'.repeat(16), kind: 1, startTimeUnixNano: '1700000000000500000', endTimeUnixNano: '1700000000002250000', status: { code: 0 } });
    expect(spans[1]).toMatchObject({ status: { code: 2, message: 'boom' } });
    // The exporter never answers: the first 4 spans (2 items) are in flight, then the queue holds 5 spans at most.
    const p = new BoundedSpanProcessor({ export: () => undefined, shutdown: async () => {} }, { maxQueue: 5, maxBatch: 4, delayMs: 10_000 });
    for (let i = 0; i < 5; i++) p.onEnd(pre);
    expect(p.dropped.queue_full).toBe(2);
    expect(p.exported).toBe(0);
  });

  it('AIRMAIL_OTLP_EXPORTER=sdk exports through the SDK exporter to the same collector', async () => {
    const sink = await startOtlpSink();
    const tracing = new Tracing({ env: { AIRMAIL_OTLP_EXPORTER: 'sdk' }, url: sink.url, delayMs: 10, timeoutMs: 2000 });
    try {
      const req = tracing.startRequest('p', { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
      req.span.end();
      tracing.recordWorkerSpans(req, [{ traceId: req.parent.traceId, spanId: '1'.repeat(16), parentSpanId: req.parent.spanId, name: 'execute', startMs: Date.now() - 2, endMs: Date.now(), attributes: { 'airmail.rows_out': 3 } }]);
      await tracing.forceFlush();
      expect(sink.spans.map((x) => x.name).sort()).toEqual(['execute', 'pipeline p']);
      expect(new Set(sink.spans.map((x) => x.traceId))).toEqual(new Set(['0af7651916cd43dd8448eb211c80319c']));
      expect(attribute(sink.spans.find((x) => x.name === 'execute')!, 'airmail.rows_out')).toBe(3);
    } finally {
      await tracing.shutdown();
      await sink.close();
    }
  });
});
