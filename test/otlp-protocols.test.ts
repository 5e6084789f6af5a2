/**
 * OTEL_EXPORTER_OTLP_PROTOCOL (or its _TRACES_ form) is honoured: http/protobuf and grpc send
 * protobuf through the SDK's exporters, http/json (and no setting) the engine's own JSON encoder.
 * Before, any value but http/json was answered with a warning and JSON was sent anyway, so a
 * collector that takes only protobuf or gRPC (the SDKs' default is http/protobuf; gRPC on 4317 is
 * the usual collector port) got nothing. Each case here runs `airmail serve` against a real
 * receiver that decodes the protobuf, and checks the request's whole trace arrived: the request
 * span, the worker's execute span and the step spans under it, under the trace id the log names.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterEach, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { otlpProtocol, otlpTarget } from '../engine/observe/tracing.js';
import { serveProcess } from './helpers.js';

// The part of opentelemetry/proto/collector/trace/v1 and trace/v1 this test reads (field numbers as in the spec).
const SCHEMA = `syntax = "proto3";
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { repeated Span spans = 2; }
message Span { bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; repeated KeyValue attributes = 9; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; } }
`;
const Request = protobuf.parse(SCHEMA, { keepCase: true }).root.lookupType('ExportTraceServiceRequest');

interface Got { traceId: string; spanId: string; parentSpanId: string; name: string; service: string }

function decode(body: Buffer, into: Got[]): void {
  const req = Request.toObject(Request.decode(body), { bytes: String, longs: Number, defaults: true }) as {
    resource_spans: { resource: { attributes: { key: string; value: { string_value?: string } }[] }; scope_spans: { spans: { trace_id: string; span_id: string; parent_span_id: string; name: string }[] }[] }[];
  };
  const hex = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');
  for (const rs of req.resource_spans) {
    const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.string_value ?? '';
    for (const ss of rs.scope_spans) for (const s of ss.spans) into.push({ traceId: hex(s.trace_id), spanId: hex(s.span_id), parentSpanId: hex(s.parent_span_id), name: s.name, service });
  }
}

/** An OTLP/HTTP receiver that takes only protobuf, as some collectors are set up. */
async function protobufReceiver(): Promise<{ endpoint: string; spans: Got[]; types: string[]; close(): Promise<void> }> {
  const spans: Got[] = [];
  const types: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = String(req.headers['content-type']);
      types.push(type);
      if (req.url !== '/v1/traces' || type !== 'application/x-protobuf') {
        res.writeHead(415).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      decode(req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw, spans);
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, types, close: () => new Promise((r) => server.close(() => r())) };
}

/** A gRPC collector: the TraceService's Export method, taking the request as bytes. */
async function grpcReceiver(): Promise<{ endpoint: string; spans: Got[]; close(): Promise<void> }> {
  const spans: Got[] = [];
  const server = new grpc.Server();
  const raw = (b: Buffer): Buffer => b;
  server.addService({
    Export: {
      path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      requestStream: false,
      responseStream: false,
      requestSerialize: raw,
      requestDeserialize: raw,
      responseSerialize: raw,
      responseDeserialize: raw,
    },
  }, {
    Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
      decode(call.request, spans);
      done(null, Buffer.alloc(0));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { endpoint: `http://127.0.0.1:${port}`, spans, close: () => new Promise((r) => server.tryShutdown(() => r())) };
}

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGTERM');
  child = undefined;
});

/** Starts `airmail serve` with `env`, sends one request, and waits until `arrived` or 20 s. */
async function serveOnce(env: Record<string, string>, arrived: () => boolean): Promise<{ lines: string[]; traceId: string }> {
  const started = await serveProcess({ AIRMAIL_LOG_LEVEL: 'info', OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_SERVICE_NAME: 'airmail-proto-test', ...env });
  child = started.child;
  const { url, lines } = started;
  const res = await fetch(`${url}/pipelines/complimentary_items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: 17, product_id: 42 }) });
  expect(res.status).toBe(200);
  const logged = (): string | undefined => lines.find((l) => l.includes('"msg":"complimentary_items returned'));
  const until = Date.now() + 20_000;
  while (!(arrived() && logged()) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const log = JSON.parse(logged() ?? '{}') as { trace_id?: string };
  return { lines, traceId: log.trace_id ?? '' };
}

/** The request's trace is whole: request span, execute under it, steps under execute. */
function expectWholeTrace(spans: readonly Got[], traceId: string): void {
  const root = spans.find((s) => s.name === 'pipeline complimentary_items');
  expect(root, `spans received: ${spans.map((s) => s.name).join(', ')}`).toBeDefined();
  expect(root!.traceId).toBe(traceId);
  expect(root!.service).toBe('airmail-proto-test');
  const execute = spans.find((s) => s.traceId === traceId && s.name === 'execute');
  expect(execute?.parentSpanId).toBe(root!.spanId);
  const steps = spans.filter((s) => s.traceId === traceId && s.name.startsWith('operation '));
  expect(steps.length).toBeGreaterThan(2);
  for (const s of steps) expect(s.parentSpanId).toBe(execute!.spanId);
}

describe('OTEL_EXPORTER_OTLP_PROTOCOL', () => {
  it('reads the traces variable first, then the general one; http/json when unset; other values are named', () => {
    expect(otlpProtocol({})).toEqual({ protocol: 'http/json' });
    expect(otlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: ' HTTP/Protobuf ' })).toEqual({ protocol: 'http/protobuf' });
    expect(otlpProtocol({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toEqual({ protocol: 'grpc' });
    expect(otlpProtocol({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toEqual({ protocol: 'http/json' });
    expect(otlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/proto' })).toEqual({ protocol: 'http/json', unknown: { variable: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: 'http/proto' } });
    // gRPC goes to the endpoint as given (4317 by default); the HTTP ones to its /v1/traces.
    expect(otlpTarget('grpc', {})).toBe('http://localhost:4317');
    expect(otlpTarget('grpc', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' })).toBe('http://c:4317');
    expect(otlpTarget('http/protobuf', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' })).toBe('http://c:4318/v1/traces');
  });

  it('a value that is no OTLP protocol: one JSON warn line at start naming it and where JSON goes (redacted); tracing still runs', async () => {
    const lines: Record<string, unknown>[] = [];
    const env = { AIRMAIL_LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://user:pw@127.0.0.1:1', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/proto' };
    const o = Observability.fromEnv(env, { write: (l) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    try {
      expect(o.tracing?.protocol).toBe('http/json');
      expect(lines).toEqual([expect.objectContaining({ level: 'warn', code: 'AIRMAIL_OTLP_PROTOCOL', variable: 'OTEL_EXPORTER_OTLP_PROTOCOL', protocol: 'http/proto' })]);
      expect(lines[0]!['msg']).toBe('OTEL_EXPORTER_OTLP_PROTOCOL=http/proto is not an OTLP protocol (grpc, http/protobuf or http/json): spans are sent as OTLP/HTTP JSON (http/json) to http://***@127.0.0.1:1/v1/traces');
    } finally {
      await o.tracing?.shutdown();
    }
  });

  it('http/protobuf: the trace reaches a collector that takes only application/x-protobuf, and nothing warns', async () => {
    const rx = await protobufReceiver();
    try {
      const { lines, traceId } = await serveOnce({ OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, () => rx.spans.some((s) => s.name === 'pipeline complimentary_items'));
      expect(new Set(rx.types)).toEqual(new Set(['application/x-protobuf']));
      expectWholeTrace(rx.spans, traceId);
      expect(lines.filter((l) => l.includes('"level":"warn"'))).toEqual([]);
    } finally {
      await rx.close();
    }
  });

  it('grpc (the traces variable): the trace reaches a gRPC TraceService/Export', async () => {
    const rx = await grpcReceiver();
    try {
      const { lines, traceId } = await serveOnce({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: rx.endpoint, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }, () => rx.spans.some((s) => s.name === 'pipeline complimentary_items'));
      expectWholeTrace(rx.spans, traceId);
      expect(lines.filter((l) => l.includes('"level":"warn"'))).toEqual([]);
    } finally {
      await rx.close();
    }
  });

  it('an unreachable gRPC collector: serving goes on and the warn line names the collector and protocol', async () => {
    const rx = await grpcReceiver();
    const dead = rx.endpoint;
    await rx.close();
    const { lines } = await serveOnce({ OTEL_EXPORTER_OTLP_ENDPOINT: dead, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TIMEOUT: '500' }, () => true);
    const until = Date.now() + 10_000;
    while (!lines.some((l) => l.includes('trace export')) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const warn = JSON.parse(lines.find((l) => l.includes('trace export')) ?? '{}') as Record<string, unknown>;
    expect(warn).toMatchObject({ level: 'warn', collector: dead, protocol: 'grpc', exports_failed: 1 });
    expect(String(warn['msg'])).toContain(`trace export to ${dead} (grpc) failed, spans are dropped until the collector answers`);
  });
});
