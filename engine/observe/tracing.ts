/**
 * OpenTelemetry tracing, off unless the standard OTEL_* variables ask for it
 * (an OTLP endpoint, or OTEL_TRACES_EXPORTER=otlp). The NodeSDK reads the
 * environment (service name, resource, sampler, propagators); spans leave in
 * the OTLP protocol it asks for (http/json, http/protobuf or grpc) behind a
 * bounded queue: when the collector is slow or dead, spans are dropped and
 * counted, and serving never waits for it.
 *
 * Spans made in pool workers arrive as plain SpanRecords (ids made in the
 * worker under the request span's context) and are handed to the same queue.
 */
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type ContextManager, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK, resources } from '@opentelemetry/sdk-node';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createRequire } from 'node:module';
import { encodedSpans, JsonSpanExporter, otlpConfig, spanWeight } from './otlp-json.js';
import type { SpanParent, SpanRecord } from './types.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Whether the environment turns tracing on. */
export function tracingWanted(env: Env = process.env): boolean {
  if ((env['OTEL_SDK_DISABLED'] ?? '').toLowerCase() === 'true') return false;
  const exporters = (env['OTEL_TRACES_EXPORTER'] ?? '').split(',').map((s) => s.trim().toLowerCase());
  if (exporters.includes('none')) return false;
  return exporters.includes('otlp') || Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
}

/** The OTLP encodings spans can leave in (OTEL_EXPORTER_OTLP_PROTOCOL's values). */
export type OtlpProtocol = 'http/json' | 'http/protobuf' | 'grpc';
const PROTOCOLS: readonly OtlpProtocol[] = ['http/json', 'http/protobuf', 'grpc'];

/**
 * The OTLP protocol the environment asks for: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else
 * OTEL_EXPORTER_OTLP_PROTOCOL, else http/json (the engine's own encoder, the cheapest per span). A
 * value that is none of the three is returned as `unknown`, with the variable that set it: tracing
 * still starts and sends JSON (a telemetry setting that a platform injects must not stop serving),
 * and the start log says so once.
 */
export function otlpProtocol(env: Env = process.env): { readonly protocol: OtlpProtocol; readonly unknown?: { readonly variable: string; readonly value: string } } {
  for (const variable of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const value = (env[variable] ?? '').trim();
    if (value === '') continue;
    const known = PROTOCOLS.find((p) => p === value.toLowerCase());
    return known ? { protocol: known } : { protocol: 'http/json', unknown: { variable, value } };
  }
  return { protocol: 'http/json' };
}

/**
 * Where spans go for `protocol`: for the HTTP ones the traces URL (…/v1/traces, as otlpConfig
 * builds it), for gRPC the collector's address (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
 * OTEL_EXPORTER_OTLP_ENDPOINT as given, else http://localhost:4317).
 */
export function otlpTarget(protocol: OtlpProtocol, env: Env = process.env, url?: string): string {
  if (url) return url;
  if (protocol !== 'grpc') return otlpConfig({ env }).url;
  return env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? env['OTEL_EXPORTER_OTLP_ENDPOINT'] ?? 'http://localhost:4317';
}

const require = createRequire(import.meta.url);

/**
 * The SDK's exporter for http/protobuf or gRPC, loaded only when asked for (gRPC brings its own
 * HTTP/2 stack). Both read OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, _COMPRESSION and _CERTIFICATE
 * themselves; the URL and timeout are passed so that `env` and the options decide them.
 */
function sdkExporter(protocol: 'http/protobuf' | 'grpc', url: string, timeoutMs: number, headers: Record<string, string>): SpanExporter {
  type Ctor = new (config: { url: string; timeoutMillis: number; headers?: Record<string, string> }) => SpanExporter;
  if (protocol === 'grpc') {
    const { OTLPTraceExporter: Grpc } = require('@opentelemetry/exporter-trace-otlp-grpc') as { OTLPTraceExporter: Ctor };
    return new Grpc({ url, timeoutMillis: timeoutMs });
  }
  const { OTLPTraceExporter: Proto } = require('@opentelemetry/exporter-trace-otlp-proto') as { OTLPTraceExporter: Ctor };
  return new Proto({ url, timeoutMillis: timeoutMs, headers });
}

export interface QueueOptions {
  /** Spans held for export at most (OTEL_BSP_MAX_QUEUE_SIZE, default 2048); more are dropped and counted. */
  readonly maxQueue?: number;
  /** Spans per export (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, default 512). */
  readonly maxBatch?: number;
  /** Longest wait before a partial batch is sent (OTEL_BSP_SCHEDULE_DELAY, default 1000 ms). */
  readonly delayMs?: number;
  /** The clock of the export-failure report's rate limit (tests). */
  readonly now?: () => number;
}

/** Exports that failed since the last report (BoundedSpanProcessor.onExportFailure). */
export interface ExportFailures {
  readonly exports: number;
  readonly spans: number;
  /** The last failure's error. */
  readonly error: string;
  /** This is the first failure the processor reports. */
  readonly first: boolean;
}

/** Failed exports are reported at once the first time, then at most this often, with their count. */
export const EXPORT_FAILURE_REPORT_MS = 60_000;

/**
 * A batch processor with a bounded queue and one export in flight. Unlike the
 * SDK's, it counts what it drops (the count is a metric).
 */
export class BoundedSpanProcessor implements SpanProcessor {
  private queue: ReadableSpan[] = [];
  /** Spans in the queue (an item of pre-encoded spans counts for each of them). */
  private queued = 0;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxQueue: number;
  private readonly maxBatch: number;
  private readonly delayMs: number;
  /** Spans dropped: the queue was full, or the collector refused or never answered. */
  readonly dropped = { queue_full: 0, export_failed: 0 };
  exported = 0;
  /**
   * Told when exports fail (a dead, hung or refusing collector): on the first failure, then at most
   * once every EXPORT_FAILURE_REPORT_MS with what failed since (observe/index.ts logs it as a warning).
   */
  onExportFailure: ((f: ExportFailures) => void) | undefined;
  private failed = { exports: 0, spans: 0, error: '', reportedAt: -Infinity, reported: false };
  private readonly now: () => number;

  constructor(private readonly exporter: SpanExporter, opts: QueueOptions = {}) {
    this.now = opts.now ?? (() => performance.now());
    this.maxQueue = opts.maxQueue ?? 2048;
    this.maxBatch = Math.min(opts.maxBatch ?? 512, this.maxQueue);
    this.delayMs = opts.delayMs ?? 1000;
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    const w = spanWeight(span);
    if (this.queued + w > this.maxQueue) {
      this.dropped.queue_full += w;
      return;
    }
    this.queue.push(span);
    this.queued += w;
    if (this.queued >= this.maxBatch) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.delayMs).unref();
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.inFlight || this.queue.length === 0) return;
    let n = 0;
    let k = 0;
    while (k < this.queue.length && (k === 0 || n + spanWeight(this.queue[k]!) <= this.maxBatch)) n += spanWeight(this.queue[k++]!);
    const batch = this.queue.splice(0, k);
    this.queued -= n;
    this.inFlight = this.send(batch).finally(() => {
      this.inFlight = undefined;
      if (this.queued >= this.maxBatch) this.kick();
      else if (this.queue.length > 0) this.timer ??= setTimeout(() => this.kick(), this.delayMs).unref();
    });
  }

  private async send(batch: ReadableSpan[]): Promise<void> {
    const pending = batch.filter((s) => s.resource.asyncAttributesPending);
    if (pending.length > 0) await Promise.all(pending.map((s) => s.resource.waitForAsyncAttributes?.())).catch(() => undefined);
    let error = '';
    const ok = await new Promise<boolean>((resolve) => {
      try {
        this.exporter.export(batch, (r) => {
          if (r.code !== 0) error = r.error?.message ?? 'export failed';
          resolve(r.code === 0);
        });
      } catch (err) {
        error = (err as Error)?.message ?? String(err);
        resolve(false);
      }
    });
    let n = 0;
    for (const s of batch) n += spanWeight(s);
    if (ok) this.exported += n;
    else {
      this.dropped.export_failed += n;
      this.noteFailure(n, error);
    }
  }

  private noteFailure(spans: number, error: string): void {
    const f = this.failed;
    f.exports++;
    f.spans += spans;
    f.error = error;
    const now = this.now();
    if (now - f.reportedAt >= EXPORT_FAILURE_REPORT_MS) this.reportFailures(now);
    // Failures within the minute are reported when it is over, even if none follow.
    else this.failTimer ??= setTimeout(() => {
      this.failTimer = undefined;
      if (this.failed.exports > 0) this.reportFailures(this.now());
    }, Math.max(0, f.reportedAt + EXPORT_FAILURE_REPORT_MS - now)).unref();
  }

  private failTimer: NodeJS.Timeout | undefined;

  private reportFailures(now: number): void {
    const f = this.failed;
    const report: ExportFailures = { exports: f.exports, spans: f.spans, error: f.error, first: !f.reported };
    f.exports = 0;
    f.spans = 0;
    f.reportedAt = now;
    f.reported = true;
    this.onExportFailure?.(report);
  }

  async forceFlush(): Promise<void> {
    for (let i = 0; i < 100 && (this.queue.length > 0 || this.inFlight); i++) {
      this.kick();
      await this.inFlight;
    }
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    await this.exporter.shutdown();
  }
}

function hr(ms: number): [number, number] {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

export interface RequestSpan {
  readonly span: Span;
  /** What workers need to make child spans. */
  readonly parent: SpanParent;
}

/** What the request span records of the HTTP request (OTel semantic conventions); Hono's `c.req` fits. */
export interface HttpRequestInfo {
  readonly method: string;
  /** The route as registered, e.g. `/pipelines/:name`. */
  readonly routePath: string;
  /** The path, without the query string. */
  readonly path: string;
}

export interface TracingOptions extends QueueOptions {
  /** OTLP/HTTP traces URL; default from OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT. */
  readonly url?: string;
  readonly exporter?: SpanExporter;
  /** Per export attempt, retries included (default OTEL_EXPORTER_OTLP_TIMEOUT or 10 s). */
  readonly timeoutMs?: number;
  readonly env?: Env;
}

function envInt(env: Env, name: string): number | undefined {
  const v = Number(env[name]);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

export class Tracing {
  readonly processor: BoundedSpanProcessor;
  private readonly sdk: NodeSDK;
  private readonly tracer: Tracer;
  /** Workers may send their spans encoded (the engine's own exporter is in use). */
  readonly encodes: boolean;
  /** How spans leave, and to where (the start log says so). */
  readonly protocol: OtlpProtocol;
  readonly target: string;

  constructor(opts: TracingOptions = {}) {
    const env = opts.env ?? process.env;
    // http/json: the engine's own encoder by default (much cheaper per span), or with
    // AIRMAIL_OTLP_EXPORTER=sdk the SDK's; http/protobuf and grpc: the SDK's exporters.
    const { protocol } = otlpProtocol(env);
    const c = otlpConfig({ env, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
    this.protocol = protocol;
    this.target = otlpTarget(protocol, env, opts.url);
    const exporter = opts.exporter ?? (protocol !== 'http/json'
      ? sdkExporter(protocol, this.target, c.timeoutMs, c.headers)
      : (env['AIRMAIL_OTLP_EXPORTER'] ?? '').toLowerCase() === 'sdk'
        ? new OTLPTraceExporter({ ...(opts.url ? { url: opts.url } : {}), ...(opts.timeoutMs ? { timeoutMillis: opts.timeoutMs } : {}) })
        : new JsonSpanExporter({ env, ...(opts.url ? { url: opts.url } : {}), ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) }));
    this.encodes = exporter instanceof JsonSpanExporter;
    this.processor = new BoundedSpanProcessor(exporter, {
      ...opts,
      maxQueue: opts.maxQueue ?? envInt(env, 'OTEL_BSP_MAX_QUEUE_SIZE') ?? 2048,
      maxBatch: opts.maxBatch ?? envInt(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? 512,
      delayMs: opts.delayMs ?? envInt(env, 'OTEL_BSP_SCHEDULE_DELAY') ?? 1000,
    });
    this.sdk = new NodeSDK({
      spanProcessors: [this.processor],
      metricReaders: [],
      logRecordProcessors: [],
      resourceDetectors: [resources.envDetector, resources.processDetector],
      // No global context manager: every span here is started with its parent given, and the
      // default one (AsyncLocalStorage) turns on Node's promise hooks for the whole main thread,
      // traced request or not: an await cost 3-4x as much (1e6 awaits: 62 ms, 261 ms with it), and
      // a served request makes about 17 promises and 30 async resources there (a few µs each request).
      // sdk-node reads null as "register none" (setupContextManager), though its type leaves null out.
      contextManager: null as unknown as ContextManager,
      ...(env['OTEL_SERVICE_NAME'] ? {} : { serviceName: 'airmail' }),
    });
    this.sdk.start();
    this.tracer = trace.getTracer('airmail');
  }

  /** The request's span, a child of an incoming W3C traceparent when there is one. */
  startRequest(name: string, headers: { traceparent?: string | undefined; tracestate?: string | undefined }, http?: HttpRequestInfo): RequestSpan {
    const carrier: Record<string, string> = {};
    if (headers.traceparent) carrier['traceparent'] = headers.traceparent;
    if (headers.tracestate) carrier['tracestate'] = headers.tracestate;
    const parent = headers.traceparent ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
    const attributes = http
      ? { 'airmail.pipeline': name, 'http.request.method': http.method, 'http.route': http.routePath, 'url.path': http.path }
      : { 'airmail.pipeline': name };
    const span = this.tracer.startSpan(`pipeline ${name}`, { kind: SpanKind.SERVER, attributes }, parent);
    const sc = span.spanContext();
    // The incoming tracestate (as the propagator parsed it) goes on to upstreams with each remote fetch's traceparent.
    const tracestate = sc.traceState?.serialize() || undefined;
    return { span, parent: { traceId: sc.traceId, spanId: sc.spanId, sampled: (sc.traceFlags & TraceFlags.SAMPLED) !== 0, ...(this.encodes ? { encode: true } : {}), ...(tracestate ? { tracestate } : {}) } };
  }

  /** Hands spans made in a worker to the export queue, as children of `req`. */
  recordWorkerSpans(req: RequestSpan, records: readonly SpanRecord[]): void {
    const base = req.span as unknown as Partial<ReadableSpan>;
    if (!base.resource || !base.instrumentationScope) return;
    for (const r of records) {
      const ctx: SpanContext = { traceId: r.traceId, spanId: r.spanId, traceFlags: TraceFlags.SAMPLED };
      const parent: SpanContext = { traceId: r.traceId, spanId: r.parentSpanId, traceFlags: TraceFlags.SAMPLED };
      const readable: ReadableSpan = {
        name: r.name,
        kind: r.kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL,
        spanContext: () => ctx,
        parentSpanContext: parent,
        startTime: hr(r.startMs),
        endTime: hr(r.endMs),
        duration: hr(Math.max(0, r.endMs - r.startMs)),
        status: r.error ? { code: SpanStatusCode.ERROR, message: r.error } : { code: SpanStatusCode.UNSET },
        attributes: r.attributes as ReadableSpan['attributes'],
        links: r.links ? r.links.map((l) => ({ context: { traceId: l.traceId, spanId: l.spanId, traceFlags: TraceFlags.SAMPLED } })) : [],
        events: [],
        ended: true,
        resource: base.resource,
        instrumentationScope: base.instrumentationScope,
        droppedAttributesCount: 0,
        droppedEventsCount: 0,
        droppedLinksCount: 0,
      };
      this.processor.onEnd(readable);
    }
  }

  /** Hands spans a worker already encoded to the export queue (same resource and scope as `req`). */
  recordEncodedSpans(req: RequestSpan, json: string, count: number): void {
    const base = req.span as unknown as Partial<ReadableSpan>;
    if (!base.resource || !base.instrumentationScope || count === 0) return;
    this.processor.onEnd(encodedSpans(json, count, { resource: base.resource, instrumentationScope: base.instrumentationScope }));
  }

  forceFlush(): Promise<void> {
    return this.processor.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.sdk.shutdown();
  }
}

let shared: Tracing | undefined;

/** The process's tracing (started once), or undefined when the environment does not ask for it. */
export function tracingFromEnv(opts: TracingOptions = {}): Tracing | undefined {
  if (shared) return shared;
  if (!opts.exporter && !opts.url && !tracingWanted(opts.env)) return undefined;
  shared = new Tracing(opts);
  return shared;
}

/** Trace id of a W3C traceparent header (for log lines when tracing is off). */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  if (!traceparent) return undefined;
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}/.exec(traceparent.trim());
  return m ? m[1] : undefined;
}

