/**
 * Issue: with tracing on, a request that was not sampled (a ratio sampler under 1, or an incoming
 * traceparent with flags 00) sent its HttpSource upstreams no traceparent at all, so the upstream
 * started a trace of its own (and sampled it by its own rule) instead of keeping the caller's trace
 * id with the sampled flag off, as W3C Trace Context and OTel's ParentBased sampler expect. Now an
 * unsampled request's fetches send `traceparent` (flags 00, the incoming trace id when there was
 * one) and the incoming `tracestate`, and make no span; tracing off still sends nothing.
 * Real parts: the SDK's parentbased_traceidratio sampler (from OTEL_TRACES_SAMPLER, as a user sets
 * it), an OTLP/HTTP JSON sink, a local upstream that records the headers it got, the worker pool.
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { startOtlpSink, type OtlpSink } from '../engine/observe/otlp-sink.js';
import { Tracing } from '../engine/observe/tracing.js';
import type { FetchTrace } from '../engine/observe/types.js';
import { RemoteBroker } from '../engine/remote/broker.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
let upstream: Server;
let col: OtlpSink;
let tracing: Tracing;
/** Metrics off and logs silent: no collector runs in the worker (executeObserved's plain path). */
let bare: RunningServer;
/** Metrics on: a collector runs for the step timings, with no spans (its wrap path). */
let counted: RunningServer;
let plain: RunningServer;
const saved = { sampler: process.env['OTEL_TRACES_SAMPLER'], arg: process.env['OTEL_TRACES_SAMPLER_ARG'] };
let w = 0;
let base: string;

async function post(srv: RunningServer, headers: Record<string, string> = {}): Promise<IncomingHttpHeaders> {
  seen.length = 0;
  // A new value each time: the answer is cached, and a cache hit calls no upstream.
  const r = await request(`${srv.url}/pipelines/inv`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ w: ++w }) });
  const body = (await r.body.json()) as Record<string, unknown>;
  expect(r.statusCode, JSON.stringify(body)).toBe(200);
  expect(body['items']).toHaveLength(2);
  expect(seen).toHaveLength(1);
  return seen[0]!.headers;
}

const UNSAMPLED = /^00-([0-9a-f]{32})-([0-9a-f]{16})-00$/;

describe('an unsampled request hands its trace context on to the upstream, flag off', () => {
  beforeAll(async () => {
    upstream = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('[{"item_id": 1}, {"item_id": 2}]'), req.url?.startsWith('/slow') ? 150 : 0);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    base = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const dir = await tempDir('airmail-unsampled-');
    await writeFile(join(dir, 'inv.yaml'), `pipeline:\n  name: inv\n  item_type: item_id\n  initialization:\n    includes:\n    - {name: HttpSource, parameters: {url: 'http://${base}/items?w={w}', vars: {w: $w}, column: item_id, ttl_ms: 60000}}\n  return: [item_id]\n`);
    col = await startOtlpSink();
    // Nothing started at the edge is sampled; a sampled parent still is (parent-based).
    process.env['OTEL_TRACES_SAMPLER'] = 'parentbased_traceidratio';
    process.env['OTEL_TRACES_SAMPLER_ARG'] = '0';
    tracing = new Tracing({ url: col.url, delayMs: 20, timeoutMs: 500 });
    bare = await server({ configs: dir, threads: 1, observe: new Observability({ tracing, metrics: false }) });
    counted = await server({ configs: dir, threads: 1, observe: new Observability({ tracing }) });
    plain = await server({ configs: dir, threads: 1, observe: Observability.quiet() });
  });
  afterAll(async () => {
    await bare?.close();
    await counted?.close();
    await plain?.close();
    await tracing?.shutdown();
    await col?.close();
    upstream?.close();
    for (const [k, v] of [['OTEL_TRACES_SAMPLER', saved.sampler], ['OTEL_TRACES_SAMPLER_ARG', saved.arg]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it.each([['no collector', () => bare], ['a metrics collector', () => counted]])('a request the ratio sampler left out sends a traceparent with flags 00 (%s)', async (_, srv) => {
    const h = await post(srv());
    const m = UNSAMPLED.exec(String(h['traceparent']));
    expect(m, String(h['traceparent'])).not.toBeNull();
    expect(m![1]).not.toBe('0'.repeat(32));
    expect(h['tracestate']).toBeUndefined();
    await tracing.forceFlush();
    expect(col.spans.filter((s) => s.traceId === m![1]), 'an unsampled request exports no span').toEqual([]);
  });

  it.each([['no collector', () => bare], ['a metrics collector', () => counted]])('an incoming unsampled traceparent keeps its trace id and tracestate (%s)', async (_, srv) => {
    const trace = '8bf92f3577b34da6a3ce929d0e0e4736';
    const h = await post(srv(), { traceparent: `00-${trace}-00f067aa0ba902b7-00`, tracestate: 'vendor=abc' });
    const m = UNSAMPLED.exec(String(h['traceparent']));
    expect(m, String(h['traceparent'])).not.toBeNull();
    expect(m![1]).toBe(trace);
    expect(h['tracestate']).toBe('vendor=abc');
    await tracing.forceFlush();
    expect(col.spans.filter((s) => s.traceId === trace)).toEqual([]);
  });

  it('a sampled parent is still followed: flags 01, the parent is the exported CLIENT span', async () => {
    const trace = '9bf92f3577b34da6a3ce929d0e0e4736';
    const h = await post(bare, { traceparent: `00-${trace}-00f067aa0ba902b7-01` });
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(h['traceparent']));
    expect(m, String(h['traceparent'])).not.toBeNull();
    expect(m![1]).toBe(trace);
    await tracing.forceFlush();
    expect(col.spans.find((s) => s.spanId === m![2])).toMatchObject({ traceId: trace, name: 'remote fetch', kind: 3 });
  });

  it('a sampled ask that waits on an unsampled one\'s call links to nothing (that call has no span)', async () => {
    const broker = new RemoteBroker();
    try {
      seen.length = 0;
      const f = { request: { kind: 'http' as const, url: `http://${base}/slow` }, cache: { ttlMs: 60_000 }, source: 'slow' };
      const a: FetchTrace = { traceparent: `00-${'a'.repeat(32)}-${'1'.repeat(16)}-00` };
      const b: FetchTrace = { traceparent: `00-${'b'.repeat(32)}-${'2'.repeat(16)}-01` };
      await Promise.all([broker.fetch(f, undefined, false, a), broker.fetch(f, undefined, false, b)]);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.headers['traceparent']).toBe(a.traceparent);
      expect(a.call).toBeUndefined();
      expect(b.call).toBeUndefined();
      expect(b.joined).toBeUndefined();
    } finally {
      await broker.close();
    }
  });

  it('tracing off sends nothing, whatever the request carries', async () => {
    const h = await post(plain, { traceparent: '00-8bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', tracestate: 'vendor=abc' });
    expect(h['traceparent']).toBeUndefined();
    expect(h['tracestate']).toBeUndefined();
  });
});
