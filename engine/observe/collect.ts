/**
 * The worker side of observability: turns an ObserveSpec into an executor
 * observer, wraps model calls when spans are wanted, and packs what it saw
 * into an ObserveReport that travels back with the reply. Used by the pool
 * worker and by the inline runner alike; nothing here runs when the spec is
 * empty.
 */
import { randomBytes } from 'node:crypto';
import { valueAt, type Dataset, type Frame, type ModelRef, type ModelRunner, type RemoteFetch, type RunContext, type SourceResult } from '../api.js';
import { stepIndex, type PlanStep } from '../config/plan.js';
import { execute, fromResultMemo, type ExecEnv, type ExecOptions, type ExecOutput } from '../execute.js';
import { shownParams, summarize } from '../shown-params.js';
import type { Plan } from '../config/plan.js';
import type { DebugStep, ExecObserver, FetchTrace, ObserveReport, ObserveSpec, RemoteCount, RemoteOutcome, SourcePhase, SpanParent, SpanRecord, StepPhase, StepRecord } from './types.js';
import { traceparentOf } from './trace-context.js';
import { encodeRecord } from './otlp-json.js';
import { WhyTracker, type SourceOrder } from './why.js';
import { redactText } from '../redact.js';

type Id = string | number;
const epoch = (t: number): number => performance.timeOrigin + t;
// Span ids from a pooled random buffer: one syscall per 512 ids.
let idPool = randomBytes(8 * 512);
let idAt = 0;
const spanId = (): string => {
  if (idAt === idPool.length) {
    idPool = randomBytes(8 * 512);
    idAt = 0;
  }
  idAt += 8;
  return idPool.toString('hex', idAt - 8, idAt);
};

export type { RemoteOutcome };
let lastRemote: RemoteOutcome | undefined;
/** Front-cache lookups of this thread not yet reported, by source. */
const remoteCounts = new Map<string, { hit: number; stale: number; miss: number; coalesced: number }>();
let remotePending = false;

/**
 * Hook for the remote-source front cache: how the fetch being started was answered (read right after
 * the call, for its span) and counted for metrics; the counts ride back on the next report
 * (`takeRemoteCounts`), since a worker has no other way to the main thread's registry.
 */
export function noteRemote(outcome: RemoteOutcome, source?: string): void {
  lastRemote = outcome;
  if (source === undefined) return;
  let c = remoteCounts.get(source);
  if (!c) remoteCounts.set(source, (c = { hit: 0, stale: 0, miss: 0, coalesced: 0 }));
  c[outcome]++;
  remotePending = true;
}

/** The front-cache counts since the last call (and resets them), or undefined when there are none. */
export function takeRemoteCounts(): RemoteCount[] | undefined {
  if (!remotePending) return undefined;
  remotePending = false;
  const out: RemoteCount[] = [];
  for (const [source, c] of remoteCounts) {
    for (const result of ['hit', 'stale', 'miss', 'coalesced'] as const) {
      if (c[result] > 0) out.push({ source, result, count: c[result] });
      c[result] = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------- collector

/** `path` relative to the directory `base` (with its trailing separator), when it lies under it. */
function relativeTo(base: string, path: string): string {
  return path.startsWith(base) ? path.slice(base.length) : path;
}

/**
 * A model file as a span shows it: relative to the configs directory, or a pinned copy (onnx.ts
 * `pin`) by its file name (its sha256 and the name), as explain shows it, not this process's folder.
 */
function shownModel(base: string | undefined, path: string): string {
  if (base && path.startsWith(base)) return path.slice(base.length);
  return /[/\\]airmail-models-[^/\\]+[/\\][0-9a-f]{16}-[^/\\]+$/.test(path) ? path.slice(path.search(/[^/\\]+$/)) : path;
}

/**
 * A model span's names, those of its airmail_model_info series: a registry model by name@version
 * (as the answer's `models`), with its binding (the series' `model`); a model file by its path under
 * the configs directory (as debug parameters show it), not the pinned copy it was loaded from.
 */
function modelAttributes(base: string | undefined, ref: ModelRef, version: string): SpanRecord['attributes'] {
  if (ref.binding !== undefined) return { 'airmail.model': version, 'airmail.model_version': version, 'airmail.model_binding': ref.binding };
  return { 'airmail.model': shownModel(base, ref.file ?? ref.path), 'airmail.model_version': version };
}

function idList(ids: SourceResult['ids'], max: number): Id[] {
  const n = Math.min(max, ids.length);
  const out: Id[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = ids[i] as Id;
  return out;
}

export interface Collector {
  readonly observer: ExecObserver;
  /** The env with model calls wrapped (spans), or the env itself. */
  wrap(env: ExecEnv): ExecEnv;
  /** The report for a finished run (`error` when execute threw). */
  report(out: { readonly length: number; readonly reason: string | null; readonly error: boolean } | undefined, error?: { readonly message: string; readonly operator?: string }, plan?: SourceOrder): ObserveReport | undefined;
}

/** A collector for `spec`, or undefined when the spec asks for nothing. */
export function collector(spec: ObserveSpec | undefined, instants?: readonly string[]): Collector | undefined {
  if (!spec || (!spec.ops && !spec.debug && !spec.why && !spec.span?.sampled)) return undefined;
  return new RequestCollector(spec, instants);
}


class RequestCollector implements Collector, ExecObserver {
  readonly observer: ExecObserver = this;
  private readonly steps: StepRecord[] | undefined;
  private readonly debug: { step: DebugStep; ids?: SourceResult['ids'] }[] | undefined;
  private readonly why: WhyTracker | undefined;
  private readonly spans: SpanRecord[] | undefined;
  private readonly execSpan: string | undefined;
  private readonly t0 = performance.now();
  private readonly models: SpanRecord[] = [];
  /** Spans: the span id of each source step running now, made when it starts (its fetches' parent). */
  private readonly stepSpans = new Map<PlanStep, string>();
  /** Spans: the parent of the remote fetch being started (set while a source's context calls remote). */
  private fetchParent: string | undefined;
  context?: (s: PlanStep, ctx: RunContext) => RunContext;
  readonly fullAnswers: boolean;

  constructor(private readonly spec: ObserveSpec, instants?: readonly string[]) {
    this.fullAnswers = spec.debug !== undefined || spec.why !== undefined || spec.span?.sampled === true;
    this.steps = spec.ops ? [] : undefined;
    this.debug = spec.debug ? [] : undefined;
    this.why = spec.why ? new WhyTracker(spec.why.id, instants) : undefined;
    this.spans = spec.span?.sampled ? [] : undefined;
    this.execSpan = this.spans ? spanId() : undefined;
    if (this.spans) this.context = (s, ctx) => {
      const id = spanId();
      this.stepSpans.set(s, id);
      return new StepContext(ctx, (f) => {
        this.fetchParent = id;
        try {
          return ctx.remote(f);
        } finally {
          this.fetchParent = undefined;
        }
      });
    };
  }

  /** The span id of a source step: the one its fetches were made under, when it has one. */
  private stepSpan(s: PlanStep): string {
    const id = this.stepSpans.get(s);
    if (id === undefined) return spanId();
    this.stepSpans.delete(s);
    return id;
  }

  source(s: PlanStep, phase: SourcePhase, params: unknown, res: SourceResult, t0: number, t1: number): void {
    params = this.shown(params);
    const n = res.ids.length;
    this.steps?.push({ step: s.label, operator: s.use, kind: s.kind, phase, rowsIn: 0, rowsOut: n, ms: t1 - t0, ...(this.spec.ops === 2 ? { params: summarize(shownParams(s, params), s.given) } : {}) });
    if (this.debug) {
      const max = this.spec.debug!.maxIds;
      this.debug.push({
        step: { step: s.label, index: stepIndex(s), operator: s.use, phase, parameters: shownParams(s, params), rowsIn: 0, rowsOut: n, ms: t1 - t0, kept: idList(res.ids, max), keptTotal: n, removed: [], removedTotal: 0, returned: idList(res.ids, max), returnedTotal: n },
        ids: res.ids,
      });
    }
    this.why?.source(s, phase, shownParams(s, params), res);
    if (this.spans) {
      this.spans.push(Object.assign(this.span(`source ${s.label}`, t0, t1, { 'airmail.step': s.label, 'airmail.operator': s.use, 'airmail.phase': phase, 'airmail.parameters': summarize(shownParams(s, params), s.given), 'airmail.rows_in': 0, 'airmail.rows_out': n }), { spanId: this.stepSpan(s) }));
    }
  }

  step(s: PlanStep, phase: StepPhase, params: unknown, before: Int32Array, after: Int32Array, frame: Frame, t0: number, t1: number): void {
    params = this.shown(params);
    this.steps?.push({ step: s.label, operator: s.use, kind: s.kind, phase, rowsIn: before.length, rowsOut: after.length, ms: t1 - t0, ...(this.spec.ops === 2 ? { params: summarize(shownParams(s, params), s.given) } : {}) });
    if (this.debug) {
      const max = this.spec.debug!.maxIds;
      const ids = frame.column(frame.key);
      const alive = new Uint8Array(frame.length);
      for (let k = 0; k < after.length; k++) alive[after[k]!] = 1;
      const kept: Id[] = [];
      for (let k = 0; k < after.length && kept.length < max; k++) kept.push(valueAt(ids, after[k]!) as Id);
      const removed: Id[] = [];
      let removedTotal = 0;
      for (let k = 0; k < before.length; k++) {
        const r = before[k]!;
        if (alive[r] === 1) continue;
        removedTotal++;
        if (removed.length < max) removed.push(valueAt(ids, r) as Id);
      }
      this.debug.push({ step: { step: s.label, index: stepIndex(s), operator: s.use, phase, parameters: shownParams(s, params), rowsIn: before.length, rowsOut: after.length, ms: t1 - t0, kept, keptTotal: after.length, removed, removedTotal } });
    }
    this.why?.step(s, phase, shownParams(s, params), before, after, frame);
    if (this.spans) {
      const id = spanId();
      for (const m of this.models.splice(0)) this.spans.push(Object.assign({}, m, { parentSpanId: id }));
      this.spans.push(Object.assign(this.span(`${phase} ${s.label}`, t0, t1, { 'airmail.step': s.label, 'airmail.operator': s.use, 'airmail.phase': phase, 'airmail.parameters': summarize(shownParams(s, params), s.given), 'airmail.rows_in': before.length, 'airmail.rows_out': after.length }), { spanId: id }));
    }
  }

  failed(s: PlanStep, phase: SourcePhase, params: unknown, error: { readonly code: string; readonly message: string }, t0: number, t1: number): void {
    params = this.shown(params);
    // Its time counts: a source that times out after its retries is what made the request slow.
    this.steps?.push({ step: s.label, operator: s.use, kind: s.kind, phase, rowsIn: 0, rowsOut: 0, ms: t1 - t0, failed: error.code, ...(this.spec.ops === 2 ? { params: summarize(shownParams(s, params), s.given) } : {}) });
    this.debug?.push({ step: { step: s.label, index: stepIndex(s), operator: s.use, phase, parameters: shownParams(s, params), rowsIn: 0, rowsOut: 0, ms: t1 - t0, kept: [], keptTotal: 0, removed: [], removedTotal: 0, failed: true, error: error.message, code: error.code } });
    if (this.spans) {
      this.spans.push(Object.assign(this.span(`source ${s.label}`, t0, t1, { 'airmail.step': s.label, 'airmail.operator': s.use, 'airmail.phase': phase, 'airmail.parameters': summarize(shownParams(s, params), s.given), 'airmail.rows_in': 0, 'airmail.rows_out': 0, 'airmail.error_code': error.code }), { spanId: this.stepSpan(s), error: error.message }));
    }
  }

  stepFailed(s: PlanStep, phase: StepPhase, params: unknown, rowsIn: number, error: { readonly code: string; readonly message: string }, t0: number, t1: number): void {
    // Counted as a failed source is (its time, no rows out), whatever the operator's kind.
    this.steps?.push({ step: s.label, operator: s.use, kind: s.kind, phase, rowsIn, rowsOut: 0, ms: t1 - t0, failed: error.code, ...(this.spec.ops === 2 && params !== undefined ? { params: summarize(this.shown(params), s.given) } : {}) });
    if (!this.spans) return;
    const id = spanId();
    for (const m of this.models.splice(0)) this.spans.push(Object.assign({}, m, { parentSpanId: id }));
    this.spans.push(Object.assign(this.span(`${phase} ${s.label}`, t0, t1, { 'airmail.step': s.label, 'airmail.operator': s.use, 'airmail.phase': phase, 'airmail.rows_in': rowsIn, 'airmail.rows_out': 0, 'airmail.error_code': error.code }), { spanId: id, error: error.message }));
  }

  /**
   * Parameters as people see them: file paths under the configs directory (a ModelScore model, made
   * absolute at load) relative to it, and a model's pinned copy by its file name, as explain shows
   * them (the process's temp folder is not shown). The same object when nothing changes.
   */
  private shown(params: unknown): unknown {
    const base = this.spec.base;
    if (!params || typeof params !== 'object' || Array.isArray(params)) return params;
    let out: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(params as Record<string, unknown>)) {
      if (typeof v !== 'string') continue;
      const shown = k === 'pinned' ? shownModel(base, v) : base && v.startsWith(base) ? relativeTo(base, v) : v;
      if (shown === v) continue;
      out ??= Object.assign({}, params as Record<string, unknown>);
      out[k] = shown;
    }
    return out ?? params;
  }

  memo(skipped: readonly PlanStep[], t: number, result = false): void {
    if (this.spans) this.spans.push(this.span('memo hit', t, t, { 'airmail.skipped_steps': skipped.map((s) => s.label).join(', ') }));
    if (this.spec.ops === 2) this.memoHit = { result, skipped: skipped.map((s) => s.label) };
  }

  private memoHit: ObserveReport['memo'];

  private span(name: string, t0: number, t1: number, attributes: SpanRecord['attributes'], parent = this.execSpan!): SpanRecord {
    return { traceId: this.spec.span!.traceId, spanId: spanId(), parentSpanId: parent, name, startMs: epoch(t0), endMs: epoch(t1), attributes };
  }

  wrap(env: ExecEnv): ExecEnv {
    if (!this.spans) return this.spec.span ? propagating(env, this.spec.span) : env;
    const self = this;
    const timed = <T>(ref: ModelRef, runner: ModelRunner, rows: number, fn: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      const version = ref.version || (runner as { sha256?: string }).sha256?.slice(0, 12) || '';
      return fn().then((v) => {
        self.models.push(self.span('model', t0, performance.now(), { ...modelAttributes(self.spec.base, ref, version), 'airmail.rows_in': rows, 'airmail.rows_out': rows }));
        return v;
      });
    };
    const remote = env.remote;
    return {
      ...env,
      ...(remote ? {
        remote: (f, signal, fresh) => {
          const t0 = performance.now();
          // A source's fetch is a child of its step; one made by another step joins the step's models.
          const parent = self.fetchParent;
          lastRemote = undefined;
          // The fetch's span id is made first: an upstream call it makes is sent it as its parent (traceparent).
          const id = spanId();
          const sp = self.spec.span!;
          const trace: FetchTrace = { traceparent: traceparentOf(sp.traceId, id, true), ...(sp.tracestate ? { tracestate: sp.tracestate } : {}) };
          const p = remote(f, signal, fresh, trace);
          const outcome = lastRemote ?? 'unknown';
          // A source is named by its operator, which may put a URL in it: shown as /metrics shows it (redacted).
          const attrs: Record<string, string | number> = { 'airmail.source': redactText(f.source ?? f.request.kind), 'airmail.cache': outcome };
          const keep = (rec: SpanRecord): void => void (parent !== undefined ? self.spans!.push(rec) : self.models.push(rec));
          // A fetch that made the upstream call is its CLIENT span, with the call's semantic-convention attributes.
          const fetched = (rec: SpanRecord): SpanRecord => Object.assign(rec, { spanId: id },
            trace.call ? { kind: 'client' as const, attributes: Object.assign(rec.attributes, trace.call.attributes) } : undefined,
            trace.joined ? { links: [trace.joined] } : undefined);
          return p.then((t) => {
            keep(fetched(self.span('remote fetch', t0, performance.now(), Object.assign(attrs, { 'airmail.rows_out': t.length }), parent)));
            return t;
          }, (err: unknown) => {
            // The fetch that failed is the span an on-call engineer looks for: keep it, with why.
            const e = err as { message?: string; code?: string };
            const rec = self.span('remote fetch', t0, performance.now(), Object.assign(attrs, { 'airmail.rows_out': 0 }, typeof e?.code === 'string' ? { 'airmail.error_code': e.code } : undefined), parent);
            keep(fetched(Object.assign(rec, { error: redactText(e?.message ?? String(err)) })));
            throw err;
          });
        },
      } : {}),
      model: async (ref) => {
        const m = await env.model(ref);
        const wrapped: ModelRunner = {
          inputName: m.inputName,
          featureCount: m.featureCount,
          predict: (x, rows) => timed(ref, m, rows, () => m.predict(x, rows)),
          ...(m.scoreItems ? { scoreItems: (f) => timed(ref, m, f.rows.length, () => m.scoreItems!(f)) } : {}),
        };
        return wrapped;
      },
    };
  }

  report(out: { readonly length: number; readonly reason: string | null; readonly error: boolean } | undefined, error?: { readonly message: string; readonly operator?: string }, plan?: SourceOrder): ObserveReport | undefined {
    const rep: { -readonly [K in keyof ObserveReport]: ObserveReport[K] } = {};
    if (this.steps) rep.steps = this.steps;
    if (this.memoHit) rep.memo = this.memoHit;
    const remote = takeRemoteCounts();
    if (remote) rep.remote = remote;
    if (this.debug) rep.debug = this.finishDebug();
    if (this.why) rep.why = this.why.answer(out ?? { length: 0, reason: error?.message ?? null, error: true }, error?.message, plan);
    if (this.spans) {
      const t1 = performance.now();
      for (const m of this.models.splice(0)) this.spans.push(m);
      this.spans.push({
        ...this.span('execute', this.t0, t1, { 'airmail.rows_out': out?.length ?? 0, ...(out?.reason ? { 'airmail.reason': out.reason } : {}) }, this.spec.span!.spanId),
        spanId: this.execSpan!,
        ...(error ? { error: error.message } : out?.error ? { error: out.reason ?? 'error' } : {}),
      });
      if (this.spec.span!.encode) rep.spansJson = { json: this.spans.map(encodeRecord).join(','), count: this.spans.length };
      else rep.spans = this.spans;
    }
    return rep;
  }

  /** Excludes: which of their ids were candidates (in some include), and the candidates each left. */
  private finishDebug(): DebugStep[] {
    const list = this.debug!;
    const excl = list.filter((d) => d.step.phase === 'exclude' && d.ids);
    if (excl.length > 0) {
      const included = new Set<Id>();
      for (const d of list) if (d.step.phase === 'include' && d.ids) for (let i = 0; i < d.ids.length; i++) included.add(d.ids[i] as Id);
      const max = this.spec.debug!.maxIds;
      for (const d of excl) {
        const removed = new Set<Id>();
        for (let i = 0; i < d.ids!.length; i++) {
          const v = d.ids![i] as Id;
          if (included.has(v)) removed.add(v);
        }
        const kept: Id[] = [];
        for (const v of included) {
          if (kept.length >= max) break;
          if (!removed.has(v)) kept.push(v);
        }
        d.step = Object.assign({}, d.step, { kept, keptTotal: included.size - removed.size, removed: [...removed].slice(0, max), removedTotal: removed.size });
      }
    }
    return list.map((d) => d.step);
  }
}

/** A source step's RunContext when spans are recorded: the request's, with the step's own `remote`. */
class StepContext implements RunContext {
  constructor(private readonly base: RunContext, readonly remote: (f: RemoteFetch) => Promise<Dataset>) {}
  get itemType(): string { return this.base.itemType; }
  get itemsDataset(): string | undefined { return this.base.itemsDataset; }
  get inputs(): Readonly<Record<string, unknown>> { return this.base.inputs; }
  get signal(): AbortSignal { return this.base.signal; }
  dataset(name: string): Dataset { return this.base.dataset(name); }
  model(ref: ModelRef): Promise<ModelRunner> { return this.base.model(ref); }
}

const reports = new WeakMap<object, ObserveReport>();

/** The report of a run that threw (kept beside the error, which crosses the worker boundary as plain data). */
export function reportOf(err: unknown): ObserveReport | undefined {
  return err !== null && typeof err === 'object' ? reports.get(err) : undefined;
}

export function attachReport<E>(err: E, report: ObserveReport | undefined): E {
  if (report && err !== null && typeof err === 'object') reports.set(err, report);
  return err;
}

/**
 * `env` whose remote fetches carry the context of a request that is traced but not sampled: no span
 * is made, and each fetch sends the request span's context with the sampled flag off (each its own
 * FetchTrace: the broker writes into it).
 */
function propagating(env: ExecEnv, sp: SpanParent): ExecEnv {
  const remote = env.remote;
  if (!remote || sp.sampled) return env;
  const traceparent = traceparentOf(sp.traceId, sp.spanId, false);
  return Object.assign({}, env, {
    remote: (f: RemoteFetch, signal: AbortSignal, fresh?: (until: number) => void) => remote(f, signal, fresh, sp.tracestate ? { traceparent, tracestate: sp.tracestate } : { traceparent }),
  });
}

/** `execute()` with the observer `spec` asks for; the report lands in `out.observed` (or beside the error). */
export async function executeObserved(spec: ObserveSpec | undefined, plan: Plan, env: ExecEnv, inputs: Readonly<Record<string, unknown>>, opts: ExecOptions): Promise<ExecOutput> {
  // A memoised result runs no step: with nothing asked beyond per-step metrics there is nothing to
  // collect, so look it up before building a collector (and tell execute() it missed).
  if (spec?.ops && !spec.debug && !spec.why && !spec.span?.sampled) {
    const memoised = fromResultMemo(plan, env, inputs, opts);
    // At debug log level the request's line says no step ran (the main thread logs it).
    if (memoised) return spec.ops === 2 ? Object.assign(memoised, { observed: { memo: { result: true, skipped: [...plan.includes, ...plan.pre, ...plan.scorers, ...plan.post].map((s) => s.label) } } }) : memoised;
    if (plan.memoResult) opts = Object.assign({}, opts, { resultMemoMissed: true });
  }
  const col = collector(spec, plan.instants);
  if (!col) return execute(plan, spec?.span ? propagating(env, spec.span) : env, inputs, opts);
  try {
    // Debug and why follow every step, so they run the literal plan (`trace` turns memoised shortcuts off).
    // Object.assign, not `{ ...opts, observer }`: on Node 20 an object spread followed by more
    // properties, once hot, leaves its copy to be promoted to the old generation with what it points
    // at (each request's options and answer; loadtest/results/stalls.md).
    const out = await execute(plan, col.wrap(env), inputs, Object.assign({}, opts, { observer: col.observer }, spec!.debug || spec!.why ? { trace: true } : undefined));
    const observed = col.report(out, undefined, plan);
    return observed ? Object.assign(out, { observed }) : out;
  } catch (err) {
    const e = err as { message?: string; operator?: string };
    throw attachReport(err, col.report(undefined, { message: e?.message ?? String(err), ...(e?.operator ? { operator: e.operator } : {}) }));
  }
}
