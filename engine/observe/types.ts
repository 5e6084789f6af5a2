/**
 * What crosses the worker boundary for observability: the spec a request
 * asks for (sent in the task) and the report the worker hands back. Plain
 * data only; nothing here runs.
 */
import type { Frame, RunContext, SourceResult } from '../api.js';
import type { PlanStep } from '../config/plan.js';

export type SourcePhase = 'include' | 'exclude';
export type StepPhase = 'score' | 'operation';
export type Phase = SourcePhase | StepPhase;

/**
 * The executor's hook interface. `execute()` calls these only when an
 * observer is passed, so they cost nothing when off. Times are
 * `performance.now()` of the calling thread.
 */
export interface ExecObserver {
  source(step: PlanStep, phase: SourcePhase, params: unknown, res: SourceResult, t0: number, t1: number): void;
  step(step: PlanStep, phase: StepPhase, params: unknown, before: Int32Array, after: Int32Array, frame: Frame, t0: number, t1: number): void;
  /** A source threw (the run then answers SOURCE_FAILED): the step that failed, and why. */
  failed?(step: PlanStep, phase: SourcePhase, params: unknown, error: { readonly code: string; readonly message: string }, t0: number, t1: number): void;
  /** A score or operation threw (the run then fails with its code): the step, for its time and span; `params` when they were bound. */
  stepFailed?(step: PlanStep, phase: StepPhase, params: unknown, rowsIn: number, error: { readonly code: string; readonly message: string }, t0: number, t1: number): void;
  /**
   * The candidates came from the per-thread memo: these steps (includes, pre-scoring operations) did
   * not run; `result`: the whole result did (every step skipped).
   */
  memo?(skipped: readonly PlanStep[], t: number, result?: boolean): void;
  /**
   * The context a source step runs with (set only when spans are recorded): sources run at once, so
   * a remote fetch can only be told which step made it through the context that step was given.
   */
  context?(step: PlanStep, ctx: RunContext): RunContext;
  /**
   * Every step must hand on its whole answer (debug, why, recorded spans show them): no step is told
   * that only a prefix is used (RowSet.upTo). Metrics alone do not ask it: a Sort before a Limit of
   * n then counts n rows out.
   */
  readonly fullAnswers?: boolean;
}

/** W3C trace context of the parent span (the request span on the main thread). */
export interface SpanParent {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
  /** Send the spans back already encoded as OTLP JSON (the engine's exporter takes them as they are). */
  readonly encode?: boolean;
  /** The incoming request's W3C tracestate, handed on to upstreams with each fetch's traceparent. */
  readonly tracestate?: string;
}

/**
 * A traced request's remote fetch: the W3C context an upstream is sent (sampled: its parent is the
 * fetch's own span; not sampled: the request span's, with the flag off, and nothing below is set), and, set by the broker when this fetch made the upstream call itself (it was not a cache hit
 * nor another request's call in flight), that call's OTel client attributes; `joined` when it waited
 * on a call another traced request made (the span links to that request's fetch span).
 */
export interface FetchTrace {
  readonly traceparent: string;
  readonly tracestate?: string;
  call?: UpstreamCall;
  joined?: { readonly traceId: string; readonly spanId: string };
}

/** An upstream call as OTel's client semantic conventions name it (HTTP: method, url.full, server.*, status; Redis: db.*). */
export interface UpstreamCall {
  readonly attributes: Record<string, string | number>;
}

/** What a request asks the worker to collect. Absent fields cost nothing. */
export interface ObserveSpec {
  /** Per-step timings and counts (metrics, debug log lines). 2 adds a parameter summary per step. */
  readonly ops?: 1 | 2;
  /** Debug trace with ids kept/removed, truncated past `maxIds` per list. */
  readonly debug?: { readonly maxIds: number };
  /** Provenance of one item id. */
  readonly why?: { readonly id: string | number };
  /** The request span (tracing on): spans are recorded under it when sampled; unsampled, remote fetches only pass its context on. */
  readonly span?: SpanParent;
  /** The configs directory with a trailing separator: paths under it are shown relative to it. */
  readonly base?: string;
}

/** One step as metrics and logs see it. */
export interface StepRecord {
  readonly step: string;
  readonly operator: string;
  readonly kind: string;
  readonly phase: Phase;
  readonly rowsIn: number;
  readonly rowsOut: number;
  readonly ms: number;
  /** `name=value, ...` of the parameters the config gave (ops: 2 only). */
  readonly params?: string;
  /** The error code of a step that failed (a source: the run answered error: true). */
  readonly failed?: string;
}

/** A finished span made in a worker, in OTLP terms (ids hex, times epoch ms). */
export interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  readonly error?: string;
  /** A fetch that called an upstream (OTLP kind CLIENT); otherwise INTERNAL. */
  readonly kind?: 'client';
  /** Spans this one is linked to (a fetch that joined another request's upstream call). */
  readonly links?: readonly { readonly traceId: string; readonly spanId: string }[];
}

/** One row of the debug trace. */
export interface DebugStep {
  readonly step: string;
  /** Its 0-based position in its phase's list of the config (`operations[1]` is the second operation). */
  readonly index: number;
  readonly operator: string;
  readonly phase: Phase;
  readonly parameters: unknown;
  readonly rowsIn: number;
  readonly rowsOut: number;
  readonly ms: number;
  /**
   * Includes: the ids the source returned (each a candidate); excludes: the candidates it left (the
   * union of the includes less what it removed); operations: the ids still alive after it.
   */
  readonly kept: readonly (string | number)[];
  readonly keptTotal: number;
  /** Operations: the ids it removed. Excludes: the returned ids that were candidates (removed from the union). */
  readonly removed: readonly (string | number)[];
  readonly removedTotal: number;
  /** Sources (includes and excludes): the ids the source returned, candidates or not. */
  readonly returned?: readonly (string | number)[];
  readonly returnedTotal?: number;
  /** The step threw: `failed` is true, `error` says why and `code` is its error code. */
  readonly failed?: true;
  readonly error?: string;
  readonly code?: string;
}

export interface WhyStepRef {
  readonly step: string;
  /** Its 0-based position in its phase's list of the config, as the debug trace gives it (two `Match`es: 0 and 1). */
  readonly index: number;
  readonly operator: string;
  readonly parameters: string;
}

/** The answer to "why is (or is not) this item in the result?". */
export interface WhyAnswer {
  readonly item: string | number;
  /** kept | excluded | filtered | cut | not_included | unknown_item | empty | error */
  readonly verdict: 'kept' | 'not_included' | 'unknown_item' | 'excluded' | 'filtered' | 'cut' | 'empty' | 'error';
  /** One sentence for people. */
  readonly reason: string;
  /** Includes that produced the item. */
  readonly includedBy: readonly WhyStepRef[];
  /** Includes that did not, with how many items each returned. */
  readonly notIncludedBy: readonly (WhyStepRef & { readonly returned: number })[];
  /** Excludes whose ids contain the item. */
  readonly excludedBy: readonly WhyStepRef[];
  /** The operation that removed it (filter or transform). */
  readonly removedBy?: WhyStepRef & { readonly phase: Phase; readonly rowsIn: number; readonly rowsOut: number; readonly values: Readonly<Record<string, unknown>> };
  /** The item's score when it was scored. */
  readonly score?: number | null;
  /**
   * 1-based rank among the rows entering the step that cut it (by `rankedBy`), or the position in the
   * result.
   */
  readonly rank?: number;
  /**
   * What a cut's rank is by: the column the step ranks by (DiverseSample's `maximize`, Sample's
   * `score`; descending, ties by smaller id), or `order` for the order the rows entered it (Limit).
   */
  readonly rankedBy?: string;
  /** Of how many rows that rank is. */
  readonly of?: number;
}

/** How a remote source's lookup in a thread's front cache was answered (engine/remote/client.ts). */
export type RemoteOutcome = 'hit' | 'stale' | 'miss' | 'coalesced';

/** Front-cache lookups of one source counted in a thread since its last report. */
export interface RemoteCount {
  readonly source: string;
  readonly result: RemoteOutcome;
  readonly count: number;
}

/** What the worker sends back beside the result. */
export interface ObserveReport {
  readonly steps?: readonly StepRecord[];
  readonly debug?: readonly DebugStep[];
  readonly why?: WhyAnswer;
  readonly spans?: readonly SpanRecord[];
  /** The same spans as comma-joined OTLP JSON span objects, when the spec asked for `encode`. */
  readonly spansJson?: { readonly json: string; readonly count: number };
  /** Front-cache lookups this thread made since its last report (metrics; see RemoteCount). */
  readonly remote?: readonly RemoteCount[];
  /** Debug log level (ops: 2) only: the run was answered from the memo, and these steps did not run. */
  readonly memo?: { readonly result: boolean; readonly skipped: readonly string[] };
  /** Set on the main thread by the pool (pool.ts): ms from asking for a worker until the run started there. */
  readonly queueMs?: number;
}

export type { PlanStep };
