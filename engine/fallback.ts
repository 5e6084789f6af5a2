/**
 * Fallback pipelines (README "Fallback pipelines"): a wrapper around one run. When the run of a
 * pipeline with `fallback:` fails (an error of a step or source), runs past its deadline or answers
 * fewer than `min_items`, the fallback pipeline runs with the same inputs in the time the request
 * has left, and answers with a `fallback` field saying why. The fallback's own failure leaves the
 * original answer standing. The executor knows nothing of this.
 */
import type { CompiledPipeline } from './config/compile-pipeline.js';
import type { FallbackCause } from './config/fallback-check.js';
import { fallbackProblems } from './config/fallback-check.js';
import type { Snapshot } from './config/load.js';
import { debugStepsOf, type Engine, type PipelineResponse, type RunOptions } from './engine.js';
import { AirmailError, asAirmailError, type Diagnostic, type ErrorCode } from './errors.js';
import { ADHOC_LABEL } from './observe/labels.js';

/** Errors of a run that a fallback answers for (`error`); DEADLINE_EXCEEDED is `deadline`. 4xx and 503 never. */
const FALLBACK_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['SOURCE_FAILED', 'OPERATOR_FAILED', 'MODEL_FAILED', 'WORKER_FAILED', 'REGISTRY_UNAVAILABLE', 'INTERNAL']);

export interface FallbackNote {
  readonly from: string;
  readonly cause: FallbackCause;
  readonly code?: string;
  readonly operator?: string;
  readonly reason: string;
}

type Host = Pick<Engine, 'runOnce' | 'deadlineFor' | 'checkInputs' | 'snapshot' | 'observe'>;

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

export async function runWithFallback(engine: Host, p: CompiledPipeline, inputs: Record<string, unknown>, opts: RunOptions): Promise<PipelineResponse> {
  const fb = p.fallback!;
  const t0 = performance.now();
  const total = opts.deadlineAt ?? Date.now() + engine.deadlineFor(p, opts.deadlineMs);
  // The fallback's time is kept back from the run's, so that the whole answer keeps the request's deadline.
  const reserve = Math.min(fb.reserveMs, Math.floor((total - Date.now()) / 2));
  let res: PipelineResponse | undefined;
  let err: unknown;
  try {
    res = await engine.runOnce(p, inputs, Object.assign({}, opts, { deadlineAt: total - reserve }));
  } catch (e) {
    err = e;
  }
  const why = causeOf(p, res, err, opts.signal);
  if (!why) {
    if (res) return res;
    throw err;
  }
  // A batch runs every element on the snapshot it started with: its fallback too.
  const snap = opts.snapshot ?? engine.snapshot;
  const label = snap.pipelines.get(p.name) === p ? p.name : ADHOC_LABEL;
  const target = snap.pipelines.get(fb.pipeline);
  let out: PipelineResponse | undefined;
  /** Why the fallback's answer is not used: its code and reason. */
  let failed: { code: string; reason: string } | undefined;
  const left = total - Date.now();
  if (!target) failed = { code: 'PIPELINE_NOT_FOUND', reason: `the fallback '${fb.pipeline}' is not loaded` };
  else if (left < 1) failed = { code: 'DEADLINE_EXCEEDED', reason: `no time was left of the request's deadline to run it (reserve_ms: ${fb.reserveMs})` };
  else {
    try {
      const given: Record<string, unknown> = {};
      const takes = (target.inputSchema['properties'] ?? {}) as Record<string, unknown>;
      for (const k of Object.keys(inputs)) if (Object.hasOwn(takes, k)) given[k] = inputs[k];
      const checked = engine.checkInputs(target, given, 'json');
      out = await engine.runOnce(target, checked, Object.assign({}, opts, { deadlineAt: Math.min(total, Date.now() + engine.deadlineFor(target)) }));
      if (out.error) failed = { code: out.code ?? 'SOURCE_FAILED', reason: out.reason ?? 'it failed' };
      else if (why.cause === 'empty' && out.items.length <= (res?.items.length ?? 0)) failed = { code: 'EMPTY', reason: `it answered ${out.items.length} item(s), no more than the run it would replace` };
    } catch (e) {
      const a = asAirmailError(e);
      failed = { code: a.code, reason: a.message };
    }
  }
  const note: FallbackNote = Object.assign({ from: p.name, cause: why.cause }, why.code ? { code: why.code } : undefined, why.operator ? { operator: why.operator } : undefined, { reason: why.reason });
  // Debug runs (people looking) stay out of the serving series, as in observe/index.ts.
  const counter = opts.debug ? undefined : engine.observe.metrics?.fallbacks;
  if (failed || !out) {
    counter?.inc([label, fb.pipeline, why.cause, 'failed']);
    const f = failed ?? { code: 'INTERNAL', reason: 'no answer' };
    engine.observe.logger.log('warn', `pipeline '${p.name}' ${why.cause === 'empty' ? 'answered too few items' : 'failed'} and its fallback '${fb.pipeline}' did not answer (${f.reason}); the original answer stands: ${why.reason}`, { event: 'fallback_failed', pipeline: p.name, fallback: fb.pipeline, cause: why.cause, code: f.code, request_id: opts.requestId });
    // The original answer, but its took_ms is the time the client waited: the fallback's try included.
    if (res) return Object.assign(res, { took_ms: round(performance.now() - t0) });
    // The run's deadline was the request's less the fallback's reserve, and the fallback failed too: say both.
    if (why.cause === 'deadline' && err instanceof AirmailError) {
      const own = `the run's deadline passed (the request's, less reserve_ms ${reserve} kept for its fallback)`;
      const first = err.message.startsWith("the request's deadline passed") ? own + err.message.slice("the request's deadline passed".length) : `${own}: ${err.message}`;
      err.message = `${first}; its fallback '${fb.pipeline}' did not answer either: ${f.reason}`;
    }
    throw err;
  }
  counter?.inc([label, fb.pipeline, why.cause, 'served']);
  engine.observe.logger.log('info', `pipeline '${p.name}' answered from its fallback '${fb.pipeline}' (${why.cause}): ${why.reason}`, { event: 'fallback', pipeline: p.name, fallback: fb.pipeline, cause: why.cause, request_id: opts.requestId });
  const answer: PipelineResponse = Object.assign(out, { took_ms: round(performance.now() - t0), fallback: note });
  if (opts.debug) answer.debug = { steps: out.debug?.steps ?? [], fallback_from: { pipeline: p.name, steps: res?.debug?.steps ?? debugStepsOf(err) ?? [] } };
  return answer;
}

interface Why { cause: FallbackCause; code?: string; operator?: string; reason: string }

/** Why the run's answer is to be replaced, or undefined when it stands. */
function causeOf(p: CompiledPipeline, res: PipelineResponse | undefined, err: unknown, signal: RunOptions['signal']): Why | undefined {
  const fb = p.fallback!;
  if (signal?.aborted) return undefined;
  if (!res) {
    const e = asAirmailError(err);
    // A 503 of the pipeline's own bulkhead share (its runs hold their workers waiting on a slow upstream) is
    // its failure, not the server's overload: the fallback runs under its own share.
    const ownShare = e.code === 'OVERLOADED' && e.details?.['bulkhead'] === p.name;
    const cause: FallbackCause | undefined = e.code === 'DEADLINE_EXCEEDED' ? 'deadline' : FALLBACK_ERRORS.has(e.code) || ownShare ? 'error' : undefined;
    if (!cause || !fb.when.includes(cause)) return undefined;
    return Object.assign({ cause, code: e.code, reason: e.message }, e.operator ? { operator: e.operator } : undefined);
  }
  if (res.error) {
    if (!fb.when.includes('error')) return undefined;
    return Object.assign({ cause: 'error' as const, code: res.code ?? 'SOURCE_FAILED', reason: res.reason ?? 'the run failed' }, res.operator ? { operator: res.operator } : undefined);
  }
  if (!fb.when.includes('empty') || res.items.length >= fb.minItems) return undefined;
  const n = res.items.length;
  return { cause: 'empty', reason: `answered ${n} item${n === 1 ? '' : 's'}, fewer than min_items ${fb.minItems}${res.reason ? `: ${res.reason}` : ''}` };
}

/** A pipeline sent to POST /execute names a loaded pipeline as its fallback: the load-time checks, against the snapshot. */
export function adhocFallbackProblems(p: CompiledPipeline, snap: Snapshot): Diagnostic[] {
  if (!p.fallback) return [];
  const names = [...snap.pipelines.keys()];
  return fallbackProblems(p, (n) => snap.pipelines.get(n), names, () => false, (n) => snap.experiments?.has(n) ?? false).map((f) => ({ code: 'CONFIG_INVALID' as const, pointer: `/pipeline/fallback${f.at}`, message: f.message }));
}

/** A pipeline's `fallback:` as GET /pipelines/{name}/explain shows it, in the config's words; {} without one. */
export function explainFallback(p: Pick<CompiledPipeline, 'fallback'>): { fallback?: { pipeline: string; when: readonly FallbackCause[]; min_items: number; reserve_ms: number } } {
  const f = p.fallback;
  return f ? { fallback: { pipeline: f.pipeline, when: f.when, min_items: f.minItems, reserve_ms: f.reserveMs } } : {};
}
