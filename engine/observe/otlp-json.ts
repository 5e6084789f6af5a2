/**
 * OTLP/HTTP JSON span export written for the hot path: spans are encoded
 * straight to one JSON string (no intermediate OTLP objects) and POSTed over
 * a keep-alive connection. Measured against the SDK's JSON serializer on 12
 * spans per request, it spends a fraction of the main thread's time; the SDK
 * exporter stays available with AIRMAIL_OTLP_EXPORTER=sdk. Failures are not
 * retried: the batch is reported failed, and the processor counts it dropped.
 *
 * Configuration follows the OTLP exporter variables: OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT,
 * OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Attributes, AttributeValue, HrTime } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { SpanRecord } from './types.js';

type Env = Readonly<Record<string, string | undefined>>;

function str(s: string): string {
  return JSON.stringify(s);
}

function nanos(t: HrTime): string {
  const ns = String(t[1]);
  return t[0] === 0 ? ns : `${t[0]}${'000000000'.slice(ns.length)}${ns}`;
}

function anyValue(v: AttributeValue | undefined): string {
  if (typeof v === 'string') return `{"stringValue":${str(v)}}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `{"intValue":${v}}` : Number.isFinite(v) ? `{"doubleValue":${v}}` : `{"stringValue":"${v}"}`;
  if (typeof v === 'boolean') return `{"boolValue":${v}}`;
  if (Array.isArray(v)) return `{"arrayValue":{"values":[${v.map((x) => anyValue(x ?? undefined)).join(',')}]}}`;
  return '{}';
}

// Attribute keys repeat on every span: their encoded prefix is kept (bounded).
const keyPrefix = new Map<string, string>();
function keyOf(k: string): string {
  let p = keyPrefix.get(k);
  if (p === undefined) {
    p = `{"key":${str(k)},"value":`;
    if (keyPrefix.size < 1024) keyPrefix.set(k, p);
  }
  return p;
}

function attributes(a: Attributes): string {
  let s = '[';
  let first = true;
  for (const k in a) {
    const v = a[k];
    if (v === undefined) continue;
    s += `${first ? '' : ','}${keyOf(k)}${anyValue(v)}}`;
    first = false;
  }
  return `${s}]`;
}

function nanosOfMs(ms: number): string {
  const s = Math.floor(ms / 1000);
  return nanos([s, Math.round((ms - s * 1000) * 1e6)]);
}

/** A span made in a worker, encoded there (INTERNAL, OTLP kind 1, or a fetch's CLIENT, 3). */
export function encodeRecord(r: SpanRecord): string {
  const links = r.links ? r.links.map((l) => `{"traceId":"${l.traceId}","spanId":"${l.spanId}","attributes":[],"droppedAttributesCount":0}`).join(',') : '';
  return `{"traceId":"${r.traceId}","spanId":"${r.spanId}","parentSpanId":"${r.parentSpanId}","name":${str(r.name)},"kind":${r.kind === 'client' ? 3 : 1},`
    + `"startTimeUnixNano":"${nanosOfMs(r.startMs)}","endTimeUnixNano":"${nanosOfMs(Math.max(r.startMs, r.endMs))}","attributes":${attributes(r.attributes)},`
    + `"droppedAttributesCount":0,"events":[],"links":[${links}],"status":{"code":${r.error ? `2,"message":${str(r.error)}` : '0'}}}`;
}

const ENCODED = Symbol('airmail.encodedSpans');

/** Spans already encoded (by a worker), queued like one span that weighs `count`. */
export interface EncodedSpans {
  readonly [ENCODED]: string;
  readonly count: number;
}

/** Wraps pre-encoded spans so the span processor can queue them beside SDK spans (same resource and scope). */
export function encodedSpans(json: string, count: number, like: Pick<ReadableSpan, 'resource' | 'instrumentationScope'>): ReadableSpan {
  const ctx = { traceId: '', spanId: '', traceFlags: 1 };
  return { [ENCODED]: json, count, resource: like.resource, instrumentationScope: like.instrumentationScope, spanContext: () => ctx } as unknown as ReadableSpan;
}

/** How many spans a queued item stands for. */
export function spanWeight(span: ReadableSpan): number {
  return (span as unknown as Partial<EncodedSpans>)[ENCODED] !== undefined ? (span as unknown as EncodedSpans).count : 1;
}

export function encodeSpan(span: ReadableSpan): string {
  const pre = (span as unknown as Partial<EncodedSpans>)[ENCODED];
  if (pre !== undefined) return pre;
  const c = span.spanContext();
  const parent = span.parentSpanContext?.spanId;
  const st = span.status;
  return `{"traceId":"${c.traceId}","spanId":"${c.spanId}",${parent ? `"parentSpanId":"${parent}",` : ''}"name":${str(span.name)},"kind":${span.kind + 1},`
    + `"startTimeUnixNano":"${nanos(span.startTime)}","endTimeUnixNano":"${nanos(span.endTime)}","attributes":${attributes(span.attributes)},`
    + `"droppedAttributesCount":${span.droppedAttributesCount},"events":[],"links":[],"status":{"code":${st.code}${st.message ? `,"message":${str(st.message)}` : ''}}}`;
}

/** An ExportTraceServiceRequest in OTLP JSON, grouped by resource and scope. */
export function encodeRequest(spans: readonly ReadableSpan[]): string {
  const byResource = new Map<object, Map<string, { scope: ReadableSpan['instrumentationScope']; spans: string[] }>>();
  for (const s of spans) {
    let scopes = byResource.get(s.resource);
    if (!scopes) byResource.set(s.resource, (scopes = new Map()));
    const key = `${s.instrumentationScope.name}@${s.instrumentationScope.version ?? ''}`;
    let e = scopes.get(key);
    if (!e) scopes.set(key, (e = { scope: s.instrumentationScope, spans: [] }));
    e.spans.push(encodeSpan(s));
  }
  const rs: string[] = [];
  for (const [resource, scopes] of byResource) {
    const ss: string[] = [];
    for (const { scope, spans: list } of scopes.values()) {
      ss.push(`{"scope":{"name":${str(scope.name)}${scope.version ? `,"version":${str(scope.version)}` : ''}},"spans":[${list.join(',')}]}`);
    }
    rs.push(`{"resource":{"attributes":${attributes((resource as { attributes: Attributes }).attributes)}},"scopeSpans":[${ss.join(',')}]}`);
  }
  return `{"resourceSpans":[${rs.join(',')}]}`;
}

function parseHeaders(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (raw ?? '').split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    try {
      out[decodeURIComponent(part.slice(0, i).trim())] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      // a malformed pair is skipped, as the SDK does
    }
  }
  return out;
}

export interface JsonExporterOptions {
  readonly url?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  readonly env?: Env;
}

/** The traces URL, headers and timeout the standard variables give. */
export function otlpConfig(opts: JsonExporterOptions = {}): { url: string; headers: Record<string, string>; timeoutMs: number } {
  const env = opts.env ?? process.env;
  const base = (env['OTEL_EXPORTER_OTLP_ENDPOINT'] ?? 'http://localhost:4318').replace(/\/+$/, '');
  const url = opts.url ?? env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? `${base}/v1/traces`;
  const headers = { ...parseHeaders(env['OTEL_EXPORTER_OTLP_HEADERS']), ...parseHeaders(env['OTEL_EXPORTER_OTLP_TRACES_HEADERS']), ...opts.headers };
  const t = Number(env['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT'] ?? env['OTEL_EXPORTER_OTLP_TIMEOUT']);
  return { url, headers, timeoutMs: opts.timeoutMs ?? (Number.isFinite(t) && t > 0 ? t : 10_000) };
}

export class JsonSpanExporter implements SpanExporter {
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly agent: HttpAgent;
  private closed = false;

  constructor(opts: JsonExporterOptions = {}) {
    const c = otlpConfig(opts);
    this.url = new URL(c.url);
    this.headers = c.headers;
    this.timeoutMs = c.timeoutMs;
    this.agent = this.url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 2 }) : new HttpAgent({ keepAlive: true, maxSockets: 2 });
  }

  export(spans: ReadableSpan[], done: (r: { code: number; error?: Error }) => void): void {
    if (this.closed) return done({ code: 1, error: new Error('exporter is shut down') });
    const body = encodeRequest(spans);
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    let finished = false;
    const finish = (ok: boolean, error?: Error): void => {
      if (finished) return;
      finished = true;
      done(ok ? { code: 0 } : { code: 1, error: error ?? new Error('export failed') });
    };
    const req = send(this.url, {
      method: 'POST',
      agent: this.agent,
      headers: { ...this.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      timeout: this.timeoutMs,
    }, (res) => {
      res.resume();
      res.on('end', () => finish((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300, new Error(`collector answered ${res.statusCode}`)));
      res.on('error', (e) => finish(false, e));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from the collector in ${this.timeoutMs} ms`)));
    req.on('error', (e) => finish(false, e));
    req.end(body);
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    this.agent.destroy();
  }

  async forceFlush(): Promise<void> {}
}
