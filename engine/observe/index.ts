/**
 * Observability around each pipeline run: decides what a request's worker
 * should collect (an ObserveSpec), then turns the worker's report into
 * metrics, log lines and spans. The Engine calls `begin` / `end` / `fail`;
 * with everything off, `begin` returns undefined and nothing else runs.
 *
 * Environment: AIRMAIL_METRICS=0 turns metrics off (on by default),
 * AIRMAIL_LOG_LEVEL=debug|info|warn|error|silent (default info, silent under
 * NODE_ENV=test), AIRMAIL_DEBUG_IDS (ids listed per debug step, default 20),
 * and the standard OTEL_* variables for tracing (off by default).
 */
import { ERRORS, type AirmailError } from '../errors.js';
import { Logger, parseLevel, stepMessage, ms as fmtMs, type LogLevel, type LogSink } from './logs.js';
import { emptyReasonLabel, metrics as processMetrics, type EngineMetrics, type HistogramSeries } from './metrics.js';
import type { RecentSeries } from './recent.js';
import { redactText } from '../redact.js';
import { otlpProtocol, traceIdOf, tracingFromEnv, type HttpRequestInfo, type RequestSpan, type Tracing } from './tracing.js';
import type { ObserveReport, ObserveSpec, WhyAnswer } from './types.js';
import { ADHOC_LABEL, FIXED_LABELS, OTHER_LABEL, UNKNOWN_LABEL } from './labels.js';

/** The fixed `pipeline` labels (see labels.ts). */
export { ADHOC_LABEL, FIXED_LABELS, OTHER_LABEL, UNKNOWN_LABEL };

/** AIRMAIL_METRICS spellings (any case): these turn the metrics off, those leave them on. */
const METRICS_OFF: readonly string[] = ['0', 'false', 'off', 'no'];
const METRICS_ON: readonly string[] = ['1', 'true', 'on', 'yes'];

export interface ObservabilityOptions {
  readonly metrics?: EngineMetrics | false;
  readonly logger?: Logger;
  readonly tracing?: Tracing;
  /** Ids listed per debug step before truncation (default 20). */
  readonly debugIds?: number;
}

export interface ObserveRunOptions {
  readonly debug?: boolean;
  /** The request's id (x-request-id, or one made for it): on its log lines. */
  readonly requestId?: string;
  readonly debugIds?: number;
  readonly why?: string | number;
  readonly traceparent?: string;
  readonly tracestate?: string;
  /** The HTTP request (Hono's `c.req` fits): read only when the request has a span, for its `http.*` / `url.path` attributes. */
  readonly httpRequest?: HttpRequestInfo;
}

/** One request in flight. */
export interface RequestObservation {
  /** The metrics label: the pipeline's name, or ADHOC_LABEL for a pipeline sent with the request. */
  readonly pipeline: string;
  /** The pipeline's own name (log messages). */
  readonly name: string;
  readonly adhoc: boolean;
  readonly requestId: string | undefined;
  readonly version: string;
  readonly t0: number;
  readonly spec: ObserveSpec | undefined;
  readonly span: RequestSpan | undefined;
  readonly traceId: string | undefined;
  /** A why or debug run: counted in airmail_diagnostic_requests_total, not in the serving series. */
  readonly kind: DiagnosticKind | undefined;
}

export type DiagnosticKind = 'why' | 'debug';

/** What `rejected` knows of the request it refused. */
export interface RefusedRequest {
  readonly requestId?: string | undefined;
  /** Its W3C trace context: the log line's `trace_id`, the parent of the refusal's span. */
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
  readonly httpRequest?: HttpRequestInfo;
  /** A why or debug request: counted in airmail_diagnostic_requests_total. */
  readonly kind?: DiagnosticKind | undefined;
}

/** What `end` reads of the response (and fills: `debug`, `why`). */
export interface ObservedResponse {
  items: readonly unknown[];
  error: boolean;
  reason: string | null;
  code?: string;
  operator?: string;
  debug?: { steps: readonly unknown[] };
  why?: WhyAnswer;
}

export class Observability {
  readonly metrics: EngineMetrics | undefined;
  readonly logger: Logger;
  readonly tracing: Tracing | undefined;
  readonly debugIds: number;
  /**
   * The configs directory with a trailing separator (set by the Engine): debug output, spans and
   * step log lines show file parameters under it relative to it.
   */
  configsBase: string | undefined;
  private readonly recorded = new WeakSet<object>();
  /** Per pipeline, per step: its histogram series, so recording builds no label keys. */
  private readonly opSeries = new Map<string, Map<string, { ms: HistogramSeries; rows: HistogramSeries; recent: RecentSeries }>>();
  private readonly opsLevel: 0 | 1 | 2;

  constructor(opts: ObservabilityOptions = {}) {
    this.metrics = opts.metrics === false ? undefined : (opts.metrics ?? processMetrics);
    this.logger = opts.logger ?? new Logger({ level: 'silent' });
    this.tracing = opts.tracing;
    this.debugIds = opts.debugIds ?? 20;
    this.opsLevel = this.logger.enabled('debug') ? 2 : this.metrics ? 1 : 0;
    // A dead or hung collector: a warning at the first failed export, then at most once a minute.
    if (this.tracing) {
      const log = this.logger;
      const collector = redactText(this.tracing.target);
      const protocol = this.tracing.protocol;
      this.tracing.processor.onExportFailure = (f) => {
        const msg = f.first
          ? `trace export to ${collector} (${protocol}) failed, spans are dropped until the collector answers: ${f.error}`
          : `trace export to ${collector} (${protocol}) failed ${f.exports} times in the last minute (${f.spans} spans dropped): ${f.error}`;
        log.log('warn', msg, { exports_failed: f.exports, spans_dropped: f.spans, error: f.error, collector, protocol });
      };
    }
  }

  /** Everything off: debug and why still work when a request asks. */
  static quiet(): Observability {
    return new Observability({ metrics: false });
  }

  static fromEnv(env: Readonly<Record<string, string | undefined>> = process.env, sink?: LogSink): Observability {
    const levelText = (env['AIRMAIL_LOG_LEVEL'] ?? '').trim();
    const level: LogLevel = parseLevel(levelText, env['NODE_ENV'] === 'test' ? 'silent' : 'info');
    const metricsSwitch = (env['AIRMAIL_METRICS'] ?? '').trim().toLowerCase();
    const off = METRICS_OFF.includes(metricsSwitch);
    const idsText = (env['AIRMAIL_DEBUG_IDS'] ?? '').trim();
    const ids = /^\d{1,9}$/.test(idsText) ? Number(idsText) : undefined;
    const tracing = tracingFromEnv({ env });
    const logger = new Logger({ level, ...(sink ? { sink } : {}) });
    // A misspelt switch (`warning`, `disabled`, `lots`) is not refused, but never silently ignored.
    const bad = (variable: string, value: string, meaning: string): void =>
      logger.log('warn', `${variable}=${value} is not understood: ${meaning}`, { code: 'AIRMAIL_ENV_INVALID', variable, value });
    if (levelText !== '' && parseLevel(levelText, 'silent') !== levelText.toLowerCase()) {
      bad('AIRMAIL_LOG_LEVEL', levelText, `the level is one of debug, info, warn, error or silent; logging at ${level}`);
    }
    if (metricsSwitch !== '' && !off && !METRICS_ON.includes(metricsSwitch)) {
      bad('AIRMAIL_METRICS', env['AIRMAIL_METRICS']!, `${METRICS_OFF.join(', ')} turn the metrics off, ${METRICS_ON.join(', ')} leave them on; they stay on`);
    }
    if (idsText !== '' && ids === undefined) {
      bad('AIRMAIL_DEBUG_IDS', env['AIRMAIL_DEBUG_IDS']!, 'it takes a whole number from 0 to 999999999; debug lists keep 20 ids');
    }
    const unknown = tracing ? otlpProtocol(env).unknown : undefined;
    if (unknown) {
      logger.log('warn', `${unknown.variable}=${unknown.value} is not an OTLP protocol (grpc, http/protobuf or http/json): spans are sent as OTLP/HTTP JSON (http/json) to ${redactText(tracing?.target ?? '')}`, { code: 'AIRMAIL_OTLP_PROTOCOL', variable: unknown.variable, protocol: unknown.value });
    }
    return new Observability({
      metrics: off ? false : processMetrics,
      logger,
      ...(tracing ? { tracing } : {}),
      ...(ids !== undefined ? { debugIds: ids } : {}),
    });
  }

  /** `adhoc`: a pipeline sent with the request (POST /execute): counted under ADHOC_LABEL, with bounded step labels. */
  begin(p: { readonly name: string; readonly version: string }, o: ObserveRunOptions, adhoc = false): RequestObservation | undefined {
    const span = this.tracing?.startRequest(p.name, { traceparent: o.traceparent, tracestate: o.tracestate }, o.httpRequest);
    const sampled = span?.parent.sampled === true;
    // A request traced but not sampled still hands its context on to the upstreams it calls (flag off).
    if (!this.opsLevel && !o.debug && o.why === undefined && !span && !this.logger.enabled('info')) return undefined;
    // Not `{ ...a, ...b }`: an object literal that starts with a spread, once hot, has its copies
    // promoted to the old generation on Node 20 (see executeObserved in collect.ts).
    const spec: ObserveSpec = Object.assign(
      {},
      this.opsLevel ? { ops: this.opsLevel } : undefined,
      o.debug ? { debug: { maxIds: o.debugIds ?? this.debugIds } } : undefined,
      o.why !== undefined ? { why: { id: o.why } } : undefined,
      span ? { span: span.parent } : undefined,
      this.configsBase && (o.debug || sampled || this.opsLevel === 2) ? { base: this.configsBase } : undefined,
    );
    const empty = !spec.ops && !spec.debug && !spec.why && !spec.span;
    return {
      pipeline: adhoc ? ADHOC_LABEL : p.name, name: p.name, adhoc, requestId: o.requestId, version: p.version, t0: performance.now(),
      spec: empty ? undefined : spec, span, traceId: span?.parent.traceId ?? traceIdOf(o.traceparent),
      kind: o.why !== undefined ? 'why' : o.debug ? 'debug' : undefined,
    };
  }

  /** `pipeline` is no longer served: its metrics series and step records go (see EngineMetrics.forgetPipeline). */
  forget(pipeline: string): void {
    if (FIXED_LABELS.has(pipeline)) return;
    this.opSeries.delete(pipeline);
    this.shedLogs.delete(pipeline); // a flush still pending logs its count all the same
    this.metrics?.forgetPipeline(pipeline);
  }

  /** A run that produced a response (items, empty, or a failing source in the body). */
  end(r: RequestObservation | undefined, res: ObservedResponse, observed: ObserveReport | undefined): void {
    if (observed?.debug) res.debug = { steps: observed.debug };
    if (observed?.why) res.why = observed.why;
    if (!r) return;
    const took = performance.now() - r.t0;
    const status = res.error ? ERRORS[(res.code as keyof typeof ERRORS) ?? 'SOURCE_FAILED']?.status ?? 200 : 200;
    this.finish(r, took, String(status), res.error ? (res.code ?? 'SOURCE_FAILED') : undefined, res.operator, res.items.length, res.reason, observed);
  }

  /** A run that threw (deadline, overload, operator failure). */
  fail(r: RequestObservation | undefined, err: AirmailError, observed: ObserveReport | undefined): void {
    if (!r) return;
    this.recorded.add(err);
    // The pool refused it (queue full, or its expected wait too long): a refusal like the early one,
    // counted but not timed, and logged once a second, not an `error` line per request while overloaded.
    if (err.code === 'OVERLOADED' && !r.kind) return this.shed(r.pipeline, err.message);
    const took = performance.now() - r.t0;
    this.finish(r, took, String(err.status === 200 ? 500 : err.status), err.code, err.operator, 0, err.message, observed);
  }

  /**
   * A request answered with an error before (or without) a run: bad body, unknown pipeline, bad
   * inputs, a body too large, an overload refusal. Skipped when `fail` already counted the error.
   * `pipeline` is a metrics label: a loaded pipeline's name or one of the fixed labels above.
   */
  rejected(pipeline: string, err: AirmailError, req: RefusedRequest = {}): void {
    if (this.recorded.has(err)) return;
    this.recorded.add(err);
    if (err.code === 'OVERLOADED' && !req.kind) return this.shed(pipeline, err.message);
    const status = err.status === 200 ? 500 : err.status;
    if (this.metrics && req.kind) this.metrics.diagnostic.inc([pipeline, req.kind, String(status)]);
    else if (this.metrics) {
      this.metrics.requests.inc([pipeline, String(status)]);
      // The operator label is a step of a loaded pipeline, or nothing (a fixed label's steps are anyone's names).
      this.metrics.errors.inc([pipeline, err.code, FIXED_LABELS.has(pipeline) ? '' : err.operator ?? '']);
      this.refusedRecently(pipeline);
    }
    // The incoming trace id is read only when the request carried one and the line is written.
    const level = status >= 500 ? 'error' : 'warn';
    const span = this.tracing ? this.refusalSpan(pipeline, err, status, req) : undefined;
    if (this.logger.enabled(level)) {
      const traceId = span ?? (req.traceparent ? traceIdOf(req.traceparent) : undefined);
      this.logger.log(level, `${pipeline} refused: ${err.message}`, Object.assign({ request_id: req.requestId, trace_id: traceId, pipeline, status, code: err.code }, req.kind ? { kind: req.kind } : undefined));
    }
  }

  /** A refusal's span (tracing on): the request span, ended at once with the error; its trace id. */
  private refusalSpan(pipeline: string, err: AirmailError, status: number, req: RefusedRequest): string | undefined {
    const r = this.tracing!.startRequest(pipeline, { traceparent: req.traceparent, tracestate: req.tracestate }, req.httpRequest);
    if (!r.parent.sampled) return r.parent.traceId;
    r.span.setAttributes(Object.assign({ 'http.response.status_code': status, 'airmail.error_code': err.code }, req.requestId ? { 'airmail.request_id': req.requestId } : undefined));
    r.span.setStatus({ code: 2, message: err.message });
    r.span.end();
    return r.parent.traceId;
  }

  /** An overload refusal (503 OVERLOADED), also one written before any error object existed (the early 503). */
  shed(pipeline: string, message: string): void {
    if (this.metrics) {
      this.metrics.requests.inc([pipeline, '503']);
      this.metrics.errors.inc([pipeline, 'OVERLOADED', '']);
      this.refusedRecently(pipeline);
    }
    if (this.logger.enabled('warn')) this.shedLog(pipeline, message);
  }

  /**
   * Overload refusals are logged at most once a second per pipeline, with their count: a line per
   * refusal would spend the main thread's time on logs exactly when it has none to spare, and flood
   * the log. The metrics still count each one.
   */
  private shedLog(pipeline: string, message: string): void {
    const now = performance.now();
    let s = this.shedLogs.get(pipeline);
    if (!s) this.shedLogs.set(pipeline, (s = { count: 0, since: now - 1000, last: message, timer: undefined }));
    s.count++;
    s.last = message;
    if (s.timer) return;
    const st = s;
    const flush = (): void => {
      st.timer = undefined;
      if (st.count === 0) return;
      const secs = Math.max(0.001, (performance.now() - st.since) / 1000);
      const msg = st.count === 1 ? `${pipeline} refused: ${st.last}` : `${pipeline} refused ${st.count} requests in ${secs.toFixed(1)} s: ${st.last}`;
      this.logger.log('warn', msg, { pipeline, status: 503, code: 'OVERLOADED', count: st.count });
      st.count = 0;
      st.since = performance.now();
    };
    // The first refusal after a quiet second is logged at once; the rest wait for the next flush.
    if (now - s.since >= 1000) flush();
    s.timer = setTimeout(flush, 1000);
    s.timer.unref();
  }
  /** A refusal in the /ui page's last minute: a request and an error, with no time. */
  private refusedRecently(pipeline: string): void {
    const w = this.metrics!.recentPipelines;
    w.add(w.seriesFor(pipeline), NaN, false, true, false);
  }

  private readonly shedLogs = new Map<string, { count: number; since: number; last: string; timer: NodeJS.Timeout | undefined }>();

  private finish(r: RequestObservation, took: number, status: string, code: string | undefined, operator: string | undefined, items: number, reason: string | null, observed: ObserveReport | undefined): void {
    // Observability never fails a request: a fault here is reported once and the response goes out.
    try {
      this.record(r, took, status, code, operator, items, reason, observed);
    } catch (err) {
      if (!this.faulted) this.logger.log('error', `observability failed while recording a request: ${(err as Error)?.message ?? String(err)}`, { code: 'AIRMAIL_OBSERVE_FAILED' });
      this.faulted = true;
    }
  }

  private faulted = false;

  private record(r: RequestObservation, took: number, status: string, code: string | undefined, operator: string | undefined, items: number, reason: string | null, observed: ObserveReport | undefined): void {
    const m = this.metrics;
    // People looking (why, debug) are not traffic: not in the serving rate, latency, errors or step timings.
    if (m && r.kind) m.diagnostic.inc([r.pipeline, r.kind, status]);
    if (m && r.kind && observed?.remote) for (const c of observed.remote) m.frontCache(c.source, c.result, c.count);
    if (m && !r.kind) {
      m.requests.inc([r.pipeline, status]);
      m.latency.observe([r.pipeline, status], took / 1000);
      if (observed?.queueMs !== undefined) m.queueWait.observe([r.pipeline], observed.queueMs / 1000);
      // A pipeline sent with the request names its own steps: its labels are the operators that ran.
      if (code) m.errors.inc([r.pipeline, code, r.adhoc ? '' : operator ?? '']);
      else if (items === 0) m.empty.inc([r.pipeline, emptyReasonLabel(reason, r.adhoc)]);
      const recent = m.recentPipelines;
      recent.add(recent.seriesFor(r.pipeline), took / 1000, status === '200', code !== undefined, code === undefined && items === 0);
      if (observed?.steps) {
        let per = this.opSeries.get(r.pipeline);
        if (!per) this.opSeries.set(r.pipeline, (per = new Map()));
        for (const s of observed.steps) {
          const step = r.adhoc ? s.operator : s.step;
          const key = `${step}\u0001${s.phase}\u0001${s.operator}`;
          let e = per.get(key);
          if (!e) {
            const l = [r.pipeline, step, s.operator, s.phase];
            per.set(key, (e = { ms: m.opLatency.seriesFor(l), rows: m.opRows.seriesFor(l), recent: m.recentSteps.seriesFor(l.join('\u0001')) }));
          }
          m.opLatency.observeSeries(e.ms, s.ms / 1000);
          m.recentSteps.add(e.recent, s.ms / 1000, true, s.failed !== undefined, false);
          // A failed step returned no rows: its time is counted, not a 0 among the rows it returns.
          if (!s.failed) m.opRows.observeSeries(e.rows, s.rowsOut);
        }
      }
      if (observed?.remote) for (const c of observed.remote) m.frontCache(c.source, c.result, c.count);
    }
    const log = this.logger;
    if (observed?.memo && log.enabled('debug')) {
      const skipped = observed.memo.skipped;
      const what = observed.memo.result ? 'answered from the result memo' : 'candidates from the memo';
      log.log('debug', `${r.name} ${what}: ${skipped.length} steps did not run (${skipped.join(', ')})`, { request_id: r.requestId, trace_id: r.traceId, pipeline: r.pipeline, version: r.version, memo: observed.memo.result ? 'result' : 'candidates', skipped });
    }
    if (log.enabled('debug') && observed?.steps) {
      for (const s of observed.steps) {
        log.log('debug', stepMessage(s), { request_id: r.requestId, trace_id: r.traceId, pipeline: r.pipeline, version: r.version, step: s.step, operator: s.operator, phase: s.phase, rows_in: s.rowsIn, rows_out: s.rowsOut, ms: round(s.ms), ...(s.failed ? { code: s.failed } : {}) });
      }
    }
    // A failed run is a warning when the response still went out as designed (a failing source: 200
    // with error: true; a 4xx), an error when the server could not answer (5xx).
    const level = !code ? 'info' : Number(status) >= 500 ? 'error' : 'warn';
    if (log.enabled(level)) {
      const msg = code
        ? `${r.name} failed in ${fmtMs(took)}: ${reason ?? code}`
        : items === 0
          ? `${r.name} returned 0 items in ${fmtMs(took)}: ${reason ?? 'empty'}`
          : `${r.name} returned ${items} items in ${fmtMs(took)}`;
      // Properties first, then Object.assign: no literal that starts with a spread (see begin).
      log.log(level, msg, Object.assign(
        { request_id: r.requestId, trace_id: r.traceId, pipeline: r.pipeline, version: r.version, status: Number(status), items, ms: round(took) },
        observed?.queueMs !== undefined ? { queue_ms: round(observed.queueMs) } : undefined,
        r.adhoc ? { name: r.name } : undefined,
        r.kind ? { kind: r.kind } : undefined,
        code ? { code, operator } : undefined,
        reason ? { reason } : undefined,
      ));
    }
    if (r.span) {
      const span = r.span.span;
      span.setAttributes(Object.assign({ 'airmail.version': r.version, 'airmail.items': items, 'http.response.status_code': Number(status) }, r.requestId ? { 'airmail.request_id': r.requestId } : undefined, reason ? { 'airmail.reason': reason } : undefined, code ? { 'airmail.error_code': code } : undefined));
      if (code) span.setStatus({ code: 2, message: reason ?? code });
      span.end();
      if (observed?.spansJson && this.tracing) this.tracing.recordEncodedSpans(r.span, observed.spansJson.json, observed.spansJson.count);
      else if (observed?.spans && this.tracing) this.tracing.recordWorkerSpans(r.span, observed.spans);
    }
  }
}


function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

export { Logger } from './logs.js';
export { metrics, recordModelSwap } from './metrics.js';
export type { ObserveReport, ObserveSpec, WhyAnswer } from './types.js';
