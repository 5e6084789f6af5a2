/**
 * Issue: a trace stopped at Airmail's edge. A remote fetch (HttpSource, RedisSource) showed as an
 * INTERNAL span with no standard attributes, and no W3C traceparent went to the upstream, so an SRE
 * could not follow a slow recommendation into the inventory service's own spans. Now the fetch that
 * calls the upstream is a CLIENT span with OTel's HTTP (or database) client attributes, and the
 * upstream is sent a traceparent whose parent id is that span's id (plus the incoming tracestate);
 * nothing is sent when tracing is off, and the URL shown keeps no query string or user info.
 * Real parts: an OTLP/HTTP JSON sink, a local upstream that records the headers it got, redis-server.
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { attribute as attr, startOtlpSink, type OtlpSink, type OtlpSpan } from '../engine/observe/otlp-sink.js';
import { Tracing } from '../engine/observe/tracing.js';
import type { FetchTrace } from '../engine/observe/types.js';
import { RemoteBroker } from '../engine/remote/broker.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';
import { redisOrSkip, startRedis, type RedisServer } from './redis-server.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
let upstream: Server;
let base: string;
let col: OtlpSink;
let tracing: Tracing;
let traced: RunningServer;
let plain: RunningServer;
let redis: RedisServer | undefined;
const withRedis = redisOrSkip();

async function post(srv: RunningServer, pipeline: string, body: unknown, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const r = await request(`${srv.url}/pipelines/${pipeline}?debug=true`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  expect(r.statusCode).toBe(200);
  return (await r.body.json()) as Record<string, unknown>;
}

async function spansOf(trace: string): Promise<OtlpSpan[]> {
  await tracing.forceFlush();
  return col.spans.filter((s) => s.traceId === trace);
}

describe('remote fetches carry the trace to the upstream', () => {
  beforeAll(async () => {
    upstream = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      const delay = req.url?.startsWith('/slow') ? 150 : 0;
      setTimeout(() => {
        if (req.url?.startsWith('/fail')) res.writeHead(500).end('down');
        else res.writeHead(200, { 'content-type': 'application/json' }).end('[{"item_id": 1}, {"item_id": 2}]');
      }, delay);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    base = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    if (withRedis) {
      redis = await startRedis();
      const c = new Redis(redis.url);
      await c.rpush('viewed:77', '5', '6');
      c.disconnect();
    }
    const dir = await tempDir('airmail-trace-ctx-');
    const pipeline = (name: string, step: string): string => `pipeline:\n  name: ${name}\n  item_type: item_id\n  initialization:\n    includes:\n    - ${step}\n  return: [item_id]\n`;
    await writeFile(join(dir, 'inv.yaml'), pipeline('inv', `{name: HttpSource, parameters: {url: 'http://svc:pw@${base}/items?token=s3cret&w={w}', vars: {w: $w}, column: item_id, ttl_ms: 60000}}`));
    await writeFile(join(dir, 'down.yaml'), pipeline('down', `{name: HttpSource, parameters: {url: 'http://${base}/fail?k=s3cret', column: item_id, retries: 1, backoff_ms: 1}}`));
    if (redis) await writeFile(join(dir, 'viewed.yaml'), pipeline('viewed', `{name: RedisSource, parameters: {url: '${redis.url}', key: 'viewed:{c}', type: list, vars: {c: $c}, column: value}}`));
    col = await startOtlpSink();
    tracing = new Tracing({ url: col.url, delayMs: 20, timeoutMs: 500 });
    traced = await server({ configs: dir, threads: 1, observe: new Observability({ tracing, metrics: false }) });
    plain = await server({ configs: dir, threads: 1, observe: Observability.quiet() });
  });
  afterAll(async () => {
    await traced?.close();
    await plain?.close();
    await tracing?.shutdown();
    await col?.close();
    await redis?.stop();
    upstream?.close();
  });

  it('sends traceparent (parent: the CLIENT fetch span) and tracestate, with the HTTP client attributes, URL redacted', async () => {
    seen.length = 0;
    await post(traced, 'inv', { w: 1 }, { traceparent: `00-${TRACE}-00f067aa0ba902b7-01`, tracestate: 'vendor=abc' });
    expect(seen).toHaveLength(1);
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(seen[0]!.headers['traceparent']));
    expect(m, String(seen[0]!.headers['traceparent'])).not.toBeNull();
    expect(m![1]).toBe(TRACE);
    expect(seen[0]!.headers['tracestate']).toBe('vendor=abc');
    const spans = await spansOf(TRACE);
    const client = spans.find((s) => s.spanId === m![2]);
    expect(client, 'the upstream\'s parent span is in the exported trace').toBeDefined();
    expect(client).toMatchObject({ name: 'remote fetch', kind: 3 }); // CLIENT
    expect(client!.parentSpanId).toBe(spans.find((s) => s.name === 'source HttpSource')!.spanId);
    expect(attr(client!, 'http.request.method')).toBe('GET');
    expect(attr(client!, 'url.full')).toBe(`http://***@${base}/items?***`);
    expect(attr(client!, 'server.address')).toBe('127.0.0.1');
    expect(attr(client!, 'server.port')).toBe(Number(base.split(':')[1]));
    expect(attr(client!, 'http.response.status_code')).toBe(200);
    expect(attr(client!, 'error.type')).toBeUndefined();
    expect(attr(client!, 'airmail.cache')).toBe('miss');
    expect(attr(client!, 'airmail.rows_out')).toBe(2);
    expect(JSON.stringify(spans)).not.toMatch(/s3cret|svc:pw/);
  });

  it('a cache hit makes no call and no client span', async () => {
    seen.length = 0;
    const trace = '5bf92f3577b34da6a3ce929d0e0e4736';
    await post(traced, 'inv', { w: 1 }, { traceparent: `00-${trace}-00f067aa0ba902b7-01` });
    expect(seen).toHaveLength(0);
    const fetch = (await spansOf(trace)).find((s) => s.name === 'remote fetch')!;
    expect(fetch).toMatchObject({ kind: 1 });
    expect(attr(fetch, 'airmail.cache')).toBe('hit');
    expect(attr(fetch, 'http.request.method')).toBeUndefined();
  });

  it('a failed call: status code, error.type and resend count on the client span; every attempt carries the traceparent', async () => {
    seen.length = 0;
    const trace = '6bf92f3577b34da6a3ce929d0e0e4736';
    expect(await post(traced, 'down', {}, { traceparent: `00-${trace}-00f067aa0ba902b7-01` })).toMatchObject({ error: true, code: 'SOURCE_FAILED' });
    expect(seen).toHaveLength(2);
    const parents = seen.map((s) => String(s.headers['traceparent']));
    expect(new Set(parents).size).toBe(1);
    const client = (await spansOf(trace)).find((s) => s.name === 'remote fetch')!;
    expect(parents[0]).toBe(`00-${trace}-${client.spanId}-01`);
    expect(client.kind).toBe(3);
    expect(client.status?.code).toBe(2);
    expect(attr(client, 'http.response.status_code')).toBe(500);
    expect(attr(client, 'error.type')).toBe('500');
    expect(attr(client, 'http.request.resend_count')).toBe(1);
    expect(attr(client, 'url.full')).toBe(`http://${base}/fail?***`);
  });

  it('sends no traceparent when tracing is off', async () => {
    seen.length = 0;
    await post(plain, 'inv', { w: 2 }, { traceparent: `00-${TRACE}-00f067aa0ba902b7-01` });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers['traceparent']).toBeUndefined();
    expect(seen[0]!.headers['tracestate']).toBeUndefined();
  });

  it.runIf(withRedis)('a Redis read is a CLIENT span with db.system.name and db.operation.name, never the key', async () => {
    const trace = '7bf92f3577b34da6a3ce929d0e0e4736';
    const res = await post(traced, 'viewed', { c: 77 }, { traceparent: `00-${trace}-00f067aa0ba902b7-01` });
    expect(res['items'], JSON.stringify(res)).toHaveLength(2);
    const spans = await spansOf(trace);
    const client = spans.find((s) => s.name === 'remote fetch')!;
    expect(client.kind).toBe(3);
    expect(attr(client, 'db.system.name')).toBe('redis');
    expect(attr(client, 'db.operation.name')).toBe('LRANGE');
    expect(attr(client, 'server.address')).toBe('127.0.0.1');
    expect(attr(client, 'server.port')).toBe(redis!.port);
    expect(JSON.stringify(client.attributes)).not.toMatch(/viewed:77/);
  });

  it('concurrent asks share one call, made under the first asker\'s trace; the other links to its span', async () => {
    const broker = new RemoteBroker();
    try {
      seen.length = 0;
      const f = { request: { kind: 'http' as const, url: `http://${base}/slow` }, cache: { ttlMs: 60_000 }, source: 'slow' };
      const a: FetchTrace = { traceparent: `00-${'a'.repeat(32)}-${'1'.repeat(16)}-01` };
      const b: FetchTrace = { traceparent: `00-${'b'.repeat(32)}-${'2'.repeat(16)}-01` };
      await Promise.all([broker.fetch(f, undefined, false, a), broker.fetch(f, undefined, false, b)]);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.headers['traceparent']).toBe(a.traceparent);
      expect(a.call?.attributes['http.response.status_code']).toBe(200);
      expect(b.call).toBeUndefined();
      expect(b.joined).toEqual({ traceId: 'a'.repeat(32), spanId: '1'.repeat(16) });
      // Later, a cache hit: no call, nothing joined.
      const c: FetchTrace = { traceparent: `00-${'c'.repeat(32)}-${'3'.repeat(16)}-01` };
      await broker.fetch(f, undefined, false, c);
      expect(seen).toHaveLength(1);
      expect(c.call).toBeUndefined();
      expect(c.joined).toBeUndefined();
    } finally {
      await broker.close();
    }
  });
});
