/**
 * What a collector receives through the SDK's exporters (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, or
 * AIRMAIL_OTLP_EXPORTER=sdk for the SDK's JSON one) keeps a remote fetch's CLIENT kind and its links.
 * Worker spans reach those exporters rebuilt as ReadableSpans (tracing.ts recordWorkerSpans), a path
 * the in-memory and engine-JSON tests never ran: a kind or a link lost there would reach no collector.
 * Real parts: `airmail serve` in its own process configured by environment as a user would, two
 * worker threads, a local upstream that holds its answer, and a collector that decodes what it gets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { afterEach, expect, it } from 'vitest';
import { ROOT, tempDir, until } from './helpers.js';

// opentelemetry/proto trace/v1 (field numbers as in the spec): the parts this test reads.
const SCHEMA = `syntax = "proto3";
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { repeated ScopeSpans scope_spans = 2; }
message ScopeSpans { repeated Span spans = 2; }
message Span { bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; int32 kind = 6; repeated Link links = 13; }
message Link { bytes trace_id = 1; bytes span_id = 2; }
`;
const Request = protobuf.parse(SCHEMA, { keepCase: true }).root.lookupType('ExportTraceServiceRequest');

interface Got { traceId: string; spanId: string; parentSpanId: string; name: string; kind: number; links: { traceId: string; spanId: string }[] }

const hex = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');

function fromProtobuf(body: Buffer): Got[] {
  type Raw = { trace_id: string; span_id: string; parent_span_id: string; name: string; kind: number; links: { trace_id: string; span_id: string }[] };
  const req = Request.toObject(Request.decode(body), { bytes: String, defaults: true }) as { resource_spans: { scope_spans: { spans: Raw[] }[] }[] };
  return req.resource_spans.flatMap((rs) => rs.scope_spans.flatMap((ss) => ss.spans.map((s) => ({
    traceId: hex(s.trace_id), spanId: hex(s.span_id), parentSpanId: hex(s.parent_span_id), name: s.name, kind: s.kind,
    links: s.links.map((l) => ({ traceId: hex(l.trace_id), spanId: hex(l.span_id) })),
  }))));
}

/** OTLP/JSON as the SDK writes it: ids hex, kind a number. */
function fromJson(body: Buffer): Got[] {
  type Raw = { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; links?: { traceId: string; spanId: string }[] };
  const req = JSON.parse(body.toString('utf8')) as { resourceSpans: { scopeSpans: { spans: Raw[] }[] }[] };
  return req.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({
    traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: s.kind,
    links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
  }))));
}

/** A collector on OTLP/HTTP that takes only `type` (415 otherwise), decoding each export. */
async function collector(type: string, decode: (b: Buffer) => Got[]): Promise<{ endpoint: string; spans: Got[]; close(): Promise<void> }> {
  const spans: Got[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith(type)) return void res.writeHead(415).end();
      const raw = Buffer.concat(chunks);
      spans.push(...decode(req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw));
      res.writeHead(200, { 'content-type': type }).end(type === 'application/json' ? '{}' : '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, close: () => new Promise((r) => server.close(() => r())) };
}

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const TA = 'a1f92f3577b34da6a3ce929d0e0e4736';
const TB = 'b2f92f3577b34da6a3ce929d0e0e4736';

it.each([
  ['http/protobuf', 'application/x-protobuf', fromProtobuf, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }],
  ['the SDK\'s http/json (AIRMAIL_OTLP_EXPORTER=sdk)', 'application/json', fromJson, { AIRMAIL_OTLP_EXPORTER: 'sdk' }],
] as const)('%s: the fetch that called the upstream arrives as a CLIENT span, the one that waited on it links to it', async (_, type, decode, env) => {
  const col = await collector(type, decode);
  cleanup.push(() => col.close());
  // The upstream holds its answers until released, so that the second request finds the first's call in flight.
  const calls: IncomingHttpHeaders[] = [];
  const held: ServerResponse[] = [];
  const upstream: Server = createServer((req, res) => {
    calls.push(req.headers);
    held.push(res);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => upstream.close(r)));
  const release = (): void => {
    for (const res of held.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end('[{"item_id": 1}]');
  };
  cleanup.push(release);
  const dir = await tempDir('airmail-sdk-exporter-');
  await writeFile(join(dir, 'inv.yaml'), `pipeline:\n  name: inv\n  item_type: item_id\n  initialization:\n    includes:\n    - {name: HttpSource, parameters: {url: 'http://127.0.0.1:${(upstream.address() as AddressInfo).port}/items', column: item_id, ttl_ms: 60000, timeout_ms: 5000}}\n  return: [item_id]\n`);

  // Configured as the README says: the OTLP endpoint and protocol in the environment, nothing else.
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'bin/airmail.mjs'), 'serve', '--port', '0', '--host', '127.0.0.1', '--threads', '2', '--configs', dir], {
    env: { ...process.env, AIRMAIL_FROM_SOURCE: '1', AIRMAIL_LOG_LEVEL: 'warn', OTEL_EXPORTER_OTLP_ENDPOINT: col.endpoint, OTEL_BSP_SCHEDULE_DELAY: '50', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanup.push(() => child.kill('SIGTERM'));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = /on (http:\/\/\S+)/.exec(l);
      if (m) resolve(m[1]!.replace('localhost', '127.0.0.1'));
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  const post = (trace: string): Promise<Response> => fetch(`${url}/pipelines/inv`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent: `00-${trace}-00f067aa0ba902b7-01` }, body: '{}' });

  const a = post(TA);
  await until(() => calls.length === 1, 'the first request\'s call reached the upstream', 20_000);
  // The first request holds its worker (one task each), so the second runs on the other and asks the main thread's broker.
  const b = post(TB);
  await new Promise((r) => setTimeout(r, 500));
  release();
  expect((await a).status).toBe(200);
  expect((await b).status).toBe(200);
  expect(calls).toHaveLength(1);

  const fetchOf = (trace: string): Got | undefined => col.spans.find((s) => s.traceId === trace && s.name === 'remote fetch');
  await until(() => fetchOf(TA) !== undefined && fetchOf(TB) !== undefined, 'both fetch spans reached the collector', 20_000);
  const client = fetchOf(TA)!;
  expect(client.kind).toBe(3); // SPAN_KIND_CLIENT
  expect(calls[0]!['traceparent']).toBe(`00-${TA}-${client.spanId}-01`);
  expect(client.parentSpanId).toBe(col.spans.find((s) => s.traceId === TA && s.name === 'source HttpSource')?.spanId);
  const waited = fetchOf(TB)!;
  expect(waited.kind).toBe(1); // SPAN_KIND_INTERNAL: it made no call
  expect(waited.links).toEqual([{ traceId: TA, spanId: client.spanId }]);
}, 60_000);
