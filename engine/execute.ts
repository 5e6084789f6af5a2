/**
 * The executor: contexts → union(includes) − union(excludes) → operations
 * moved before scoring → scorers → operations → one gather of the returned
 * columns. Every step is an index fold over one frame; nothing here knows a
 * concrete operator.
 */
import type { Column, Dataset, ModelRef, ModelRunner, OperatorDefinition, RemoteFetch, RowSet, RunContext, Scalar, SourceResult } from './api.js';
import { gather, valueAt } from './api.js';
import { AirmailError, asAirmailError, stepError } from './errors.js';
import { deadlineAtStep } from './cache/abort.js';
import type { TaskCancel } from './task-cancel.js';
import { WorkFrame } from './frame.js';
import { bindModel, modelsUsed, type ModelTable } from './registry/bindings.js';
import { memoKey, subtractExcludes, threadMemo, type MemoEntry } from './memo.js';
import { setAt } from './config/refs.js';
import type { Plan, PlanStep } from './config/plan.js';
import type { ExecObserver, FetchTrace, ObserveReport } from './observe/types.js';
import { redactParams, redactText } from './redact.js';
import { idKindOf, keyedIds, type IdKind } from './source-ids.js';
import { alignedColumn, checkUntouched, filteredRows, rowsStamp, scoreValues, selectedRows, transformParts } from './step-rows.js';
import { unionMinus } from './union.js';
import { deadlineInStep } from './step-slots.js';
import { resolveBound } from './time.js';
import { shownParams, summarize } from './shown-params.js';

export interface ExecEnv {
  readonly datasets: ReadonlyMap<string, Dataset>;
  readonly operators: ReadonlyMap<string, OperatorDefinition>;
  model(ref: ModelRef): Promise<ModelRunner>;
  /**
   * Remote tables through the engine's cache (engine/remote); absent where no remote facility is wired.
   * `fresh` is told until when (epoch ms) the answer is fresh, so candidates built from it are not kept longer.
   */
  /** `trace`: the fetch of a traced request (its W3C context for the upstream; the call made is noted in it). */
  remote?(fetch: RemoteFetch, signal: AbortSignal, fresh?: (until: number) => void, trace?: FetchTrace): Promise<Dataset>;
}

export interface StepTrace {
  readonly step: string;
  readonly operator: string;
  readonly phase: 'include' | 'exclude' | 'score' | 'operation';
  readonly parameters: unknown;
  readonly rowsIn: number;
  readonly rowsOut: number;
  readonly ms: number;
  /** The step threw (a failing source): why. */
  readonly failed?: true;
  readonly error?: string;
}

export interface ExecOutput {
  readonly length: number;
  readonly columns: Readonly<Record<string, Column>>;
  /** Why the result is empty, or which step failed. */
  readonly reason: string | null;
  readonly error: boolean;
  readonly errorCode?: string;
  readonly operator?: string;
  readonly steps: readonly StepTrace[];
  /** Filled by the worker when the request asked for observability (see observe/). */
  readonly observed?: ObserveReport;
  /** Scorer output → registry model version it used (`psale@3`), when any. */
  readonly models?: Readonly<Record<string, string>>;
}

export interface ExecOptions {
  readonly signal?: AbortSignal;
  /** A worker's cancel of this task (task-cancel.ts): its client has gone. */
  readonly cancel?: TaskCancel;
  /** Epoch ms past which the request stops between steps; operators see it through ctx.signal. */
  readonly deadline?: number;
  /** The request's now (epoch ms): time bounds (`now-30d`) resolve against it; default: read once here. */
  readonly now?: number;
  readonly trace?: boolean;
  /** Run in the literal order without the candidate memo (see memo.ts). */
  readonly literal?: boolean;
  /** The caller has already looked the result memo up and missed (executeObserved): do not look again. */
  readonly resultMemoMissed?: boolean;
  /** Hooks called after every source and step; none when absent (see observe/types.ts). */
  readonly observer?: ExecObserver;
  /** Registry bindings → the models this request uses (taken when it started). */
  readonly models?: ModelTable;
  /**
   * Called as each step starts, with the time (epoch ms): where a run stopped from outside was
   * (the pool's step slots, an inline run's mark: engine/step-slots.ts).
   */
  readonly onStep?: (step: PlanStep, at: number) => void;
}

type Bound = Record<string, unknown>;

class Empty extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

type ContextRow = { readonly ds: Dataset; readonly row: number };
type Site = PlanStep['sites'][number];

/** A context's key in this request: an input (`$name`), or a literal (`$$x` is the text `$x`). */
function contextKey(c: Plan['contexts'][number], inputs: Readonly<Record<string, unknown>>): unknown {
  if (typeof c.key !== 'string' || !c.key.startsWith('$')) return c.key;
  return c.key.startsWith('$$') ? c.key.slice(1) : inputs[c.key.slice(1)];
}

function findContext(c: Plan['contexts'][number], ds: Dataset, key: unknown): ContextRow | undefined {
  const row = ds.findRow(c.column, key as Scalar);
  return row < 0 ? undefined : { ds, row };
}

/** The value a `$input` or `$context.column` reference takes in this request. */
function siteValues(inputs: Readonly<Record<string, unknown>>, contextRows: ReadonlyMap<string, ContextRow>, now: number): (site: Site) => unknown {
  return (site) => {
    if (site.ref.kind === 'input') return inputs[site.ref.name];
    if (site.ref.kind === 'time') return resolveBound(site.ref.bound, now);
    const cr = contextRows.get(site.ref.context)!;
    return valueAt(cr.ds.column(site.ref.column), cr.row);
  };
}

/** Every step of a plan whose result is memoised (plan.memoResult), and the key of a request's result. */
const allSteps = new WeakMap<Plan, readonly PlanStep[]>();
function stepsOf(plan: Plan): readonly PlanStep[] {
  let all = allSteps.get(plan);
  if (!all) allSteps.set(plan, (all = [...plan.includes, ...plan.pre, ...plan.scorers, ...plan.post]));
  return all;
}
function resultKeyOf(plan: Plan, siteValue: (site: Site) => unknown): string {
  return `result\u0000${memoKey(stepsOf(plan).map((s) => s.sites.map(siteValue)))}`;
}

/**
 * The memoised result of a plan whose result depends only on its bound parameters (plan.memoResult),
 * as a copy, or undefined when there is none (a miss, no memo, a context row that is not there:
 * execute() then runs the plan and says why).
 */
export function fromResultMemo(plan: Plan, env: ExecEnv, inputs: Readonly<Record<string, unknown>>, opts: ExecOptions = {}, now = opts.now ?? Date.now()): ExecOutput | undefined {
  if (!plan.memoResult || opts.trace === true || opts.literal || opts.resultMemoMissed) return undefined;
  const memo = threadMemo();
  if (!memo) return undefined;
  const rows = new Map<string, ContextRow>();
  for (const c of plan.contexts) {
    const ds = env.datasets.get(c.dataset);
    const row = ds && findContext(c, ds, contextKey(c, inputs));
    if (!row) return undefined;
    rows.set(c.name, row);
  }
  const hit = memo.get(plan, resultKeyOf(plan, siteValues(inputs, rows, now)));
  if (!hit) return undefined;
  opts.observer?.memo?.(stepsOf(plan), performance.now(), true);
  const n = hit.frame.length;
  const every = new Int32Array(n);
  for (let i = 0; i < n; i++) every[i] = i;
  const columns: Record<string, Column> = {};
  for (const c of plan.returns) columns[c] = gather(hit.frame.column(c), every);
  return { length: n, columns, reason: null, error: false, steps: [] };
}

/**
 * The RunContext of one request. A class, with `signal` a getter on its prototype, not an object
 * literal with a getter of its own: V8 keeps such a getter in a pair it allocates in the old
 * generation, and that pair pointed at the request's closures and through them at all its state.
 * Every request's state then outlived two young collections, and a worker ran a full collection
 * every ~1,400 requests of the standard workload, each with 20-50 ms of marking on a core it shared
 * with the serving threads (loadtest/stalls.ts shows them).
 */
class RequestContext implements RunContext {
  readonly itemType: string;
  readonly itemsDataset: string | undefined;
  readonly #datasets: ReadonlyMap<string, Dataset>;
  readonly #signal: () => AbortSignal;

  constructor(
    plan: Plan,
    readonly inputs: Readonly<Record<string, unknown>>,
    datasets: ReadonlyMap<string, Dataset>,
    signal: () => AbortSignal,
    readonly model: (ref: ModelRef) => Promise<ModelRunner>,
    readonly remote: (fetch: RemoteFetch) => Promise<Dataset>,
  ) {
    this.itemType = plan.itemType;
    this.itemsDataset = plan.itemsDataset;
    this.#datasets = datasets;
    this.#signal = signal;
  }

  get signal(): AbortSignal {
    return this.#signal();
  }

  dataset(name: string): Dataset {
    const d = this.#datasets.get(name);
    if (!d) throw new AirmailError('UNKNOWN_DATASET', `no dataset named '${name}'`);
    return d;
  }
}

export async function execute(plan: Plan, env: ExecEnv, inputs: Readonly<Record<string, unknown>>, opts: ExecOptions = {}): Promise<ExecOutput> {
  // Read once: every step, and a re-run in the literal order, see the same now (no copy of opts
  // here: a per-request object spread is promoted to the old generation on Node 20, see the test).
  const now = opts.now ?? Date.now();
  const memoised = fromResultMemo(plan, env, inputs, opts, now);
  if (memoised) return memoised;
  // ctx.signal is made on first use: an AbortSignal costs more to create than a small request
  // takes to run, and most operators never look at it. Between steps the deadline is a clock read.
  let made: AbortSignal | undefined;
  const deadline = opts.deadline;
  const makeSignal = (): AbortSignal => {
    if (made) return made;
    if (opts.cancel) return (made = opts.cancel.signal(deadline));
    const timeout = deadline !== undefined ? AbortSignal.timeout(Math.max(1, deadline - Date.now())) : undefined;
    made = opts.signal && timeout ? AbortSignal.any([opts.signal, timeout]) : opts.signal ?? timeout ?? new AbortController().signal;
    return made;
  };
  const stopped = (): string | undefined => {
    if (opts.signal?.aborted) return String(opts.signal.reason ?? 'aborted');
    if (opts.cancel?.aborted) return String(opts.cancel.reason);
    if (deadline !== undefined && Date.now() >= deadline) return 'deadline';
    return made?.aborted ? String(made.reason ?? 'deadline') : undefined;
  };
  const steps: StepTrace[] = [];
  const trace = opts.trace === true;
  const obs = opts.observer;
  const used: Record<string, string> = {};
  // Until when (epoch ms) every remote answer this run used is fresh: the memo keeps nothing longer.
  let freshUntil = Infinity;
  const noteFresh = (until: number): void => void (until < freshUntil && (freshUntil = until));
  const ctx = new RequestContext(
    plan,
    inputs,
    env.datasets,
    makeSignal,
    (ref) => env.model(bindModel(ref, opts.models, used, current)),
    (f) => env.remote ? env.remote(f, makeSignal(), noteFresh) : Promise.reject(new AirmailError('SOURCE_FAILED', 'remote sources are not available in this runner')),
  );
  const op = (s: PlanStep): OperatorDefinition => {
    const def = env.operators.get(s.use);
    if (!def) throw new AirmailError('UNKNOWN_OPERATOR', `operator '${s.use}' is not installed in this worker`, { operator: s.label });
    return def;
  };
  let current: PlanStep | undefined;
  let enteredAt = 0;
  /** Building a memo entry: an empty result is re-run in the literal order for its exact reason. */
  let building = false;
  try {
    // ---- contexts
    const contextRows = new Map<string, ContextRow>();
    for (const c of plan.contexts) {
      const key = contextKey(c, inputs);
      const row = findContext(c, ctx.dataset(c.dataset), key);
      if (row === undefined) throw new Empty(`context '${c.name}': dataset '${c.dataset}' has no row with ${c.column}=${JSON.stringify(key)}`);
      contextRows.set(c.name, row);
    }
    const siteValue = siteValues(inputs, contextRows, now);
    const bind = (s: PlanStep): Bound => {
      let p: unknown = s.params;
      for (const site of s.sites) p = setAt(p, site.path, siteValue(site));
      return p as Bound;
    };

    const attachItems = (f: WorkFrame): void => {
      if (!plan.itemsDataset) return;
      const ds = ctx.dataset(plan.itemsDataset);
      f.attachItems(ds, ds.key ?? plan.itemType);
    };

    // ---- sources: ids are keyed by the items dataset's key type (source-ids.ts)
    let idKind: IdKind | undefined | null = null;
    const itemIds = (): IdKind | undefined => {
      if (idKind !== null) return idKind;
      const ds = plan.itemsDataset !== undefined ? env.datasets.get(plan.itemsDataset) : undefined;
      return (idKind = idKindOf(ds, ds?.key ?? plan.itemType));
    };
    const runSources = async (list: readonly PlanStep[], phase: 'include' | 'exclude'): Promise<{ step: PlanStep; res: SourceResult; params: unknown }[]> =>
      Promise.all(
        list.map(async (s) => {
          const t0 = performance.now();
          const def = op(s);
          if (def.kind !== 'source') throw new AirmailError('INTERNAL', `${s.label} is not a source`);
          const params = bind(s);
          opts.onStep?.(s, Date.now());
          let res: SourceResult;
          try {
            res = keyedIds(await def.run(params, obs?.context ? obs.context(s, ctx) : ctx), itemIds(), s.label, `${plan.itemType} of dataset '${plan.itemsDataset}'`);
          } catch (err) {
            const e = asAirmailError(err, 'SOURCE_FAILED');
            e.operator ??= s.label;
            // A client that left (its fetch cancelled) is no failure of the source: the code stays.
            const failed = e.code === 'DEADLINE_EXCEEDED' ? deadlineAtStep(e, s.label) : e.code === 'CLIENT_CLOSED' ? e : new AirmailError('SOURCE_FAILED', `${s.label}(${summarize(shownParams(s, params), s.given)}) failed: ${redactText(e.message)}`, { operator: s.label, cause: e });
            // The failed step shows in the debug trace and as a span with an error status.
            if (trace) steps.push({ step: s.label, operator: s.use, phase, parameters: shownParams(s, params), rowsIn: 0, rowsOut: 0, ms: performance.now() - t0, failed: true, error: failed.message });
            if (obs?.failed) obs.failed(s, phase, params, failed, t0, performance.now());
            throw failed;
          }
          if (trace) steps.push({ step: s.label, operator: s.use, phase, parameters: redactParams(shownParams(s, params)), rowsIn: 0, rowsOut: res.ids.length, ms: performance.now() - t0 });
          if (obs) obs.source(s, phase, params, res, t0, performance.now());
          return { step: s, res, params };
        }),
      );
    let wf: WorkFrame;
    let rows: Int32Array;
    const memo = plan.memo && !trace && !opts.literal ? threadMemo() : undefined;
    // A miss of the result memo (looked up on entry): the result is kept at the end.
    const resultKey = memo && plan.memoResult ? resultKeyOf(plan, siteValue) : undefined;
    let memoKeyText = '';
    let entry: MemoEntry | undefined;
    let pendingExcludes: ReturnType<typeof runSources> | undefined;
    if (memo) {
      // Only the referenced values vary: the rest of each step's parameters is fixed by the plan version.
      memoKeyText = memoKey([...plan.includes, ...plan.pre].map((s) => s.sites.map(siteValue)));
      entry = memo.get(plan, memoKeyText);
    }
    if (memo && entry) {
      obs?.memo?.([...plan.includes, ...plan.pre], performance.now());
      const exc = await runSources(plan.excludes, 'exclude');
      ({ frame: wf, rows } = subtractExcludes(entry, plan.itemType, exc.map((x) => x.res)));
      // An empty answer is rare: the literal order says exactly which step emptied it.
      if (rows.length === 0) return execute(plan, env, inputs, { ...opts, literal: true, now });
    } else if (memo) {
      // The excludes do not depend on the candidates: fetched while the includes and the pre-steps
      // run (a remote exclude no longer waits for a remote include), subtracted once they are kept.
      pendingExcludes = plan.excludes.length > 0 ? runSources(plan.excludes, 'exclude') : undefined;
      pendingExcludes?.catch(() => undefined);
      const inc = await runSources(plan.includes, 'include');
      ({ frame: wf, rows } = unionMinus(plan.itemType, inc.map((x) => x.res), []));
      if (rows.length === 0) return execute(plan, env, inputs, { ...opts, literal: true, now });
      attachItems(wf);
    } else {
      const [inc, exc] = await Promise.all([runSources(plan.includes, 'include'), runSources(plan.excludes, 'exclude')]);
      ({ frame: wf, rows } = unionMinus(plan.itemType, inc.map((x) => x.res), exc.map((x) => x.res)));
      if (rows.length === 0) {
        const total = inc.reduce((n, x) => n + x.res.ids.length, 0);
        throw new Empty(total === 0
          ? `includes ${inc.map((x) => `${x.step.label}(${summarize(shownParams(x.step, x.params), x.step.given)})`).join(', ')} returned 0 items`
          : `excludes ${plan.excludes.map((s) => s.label).join(', ')} removed all ${total} included items`);
      }
      attachItems(wf);
    }

    // Columns a step reads that no step wrote come from the items dataset, for the live rows only.
    const hydrate = (cols: readonly string[]): void => {
      const missing = cols.filter((c) => !wf.has(c));
      if (missing.length === 0) return;
      const items = wf.items();
      if (!items) throw new AirmailError('UNKNOWN_COLUMN', `column '${missing[0]}' is not in the frame and the pipeline has no items dataset`);
      for (const c of missing) {
        items.dataset.column(c); // UNKNOWN_COLUMN now, not when first read
        wf.hydrateLazily(c, rows);
      }
    };

    // How many first rows of post step i's answer are used: the next step says, a Limit (keepsFirst) by
    // itself, a step that hands on a prefix (passesUpTo, an Offset) from what the steps after it use.
    const upToOf = (i: number): number | undefined => {
      const next = plan.post[i + 1];
      if (!next || trace || obs?.fullAnswers) return undefined;
      const def = op(next);
      if (def.kind !== 'transform' || (!def.keepsFirst && !def.passesUpTo)) return undefined;
      const p = bind(next);
      const after = def.passesUpTo ? upToOf(i + 1) : undefined;
      const ns = [def.keepsFirst?.(p), after === undefined ? undefined : def.passesUpTo!(p, after)];
      const n = Math.min(...ns.map((x) => x ?? Infinity));
      return n > 0 && Number.isFinite(n) ? n : undefined;
    };
    const runStep = async (s: PlanStep, phase: 'score' | 'operation', upTo?: number): Promise<void> => {
      const stop = stopped();
      // A deadline that passed while the step before ran is that step's: it ran past it.
      if (stop !== undefined) throw current && deadline !== undefined && enteredAt < deadline
        ? deadlineInStep({ step: current, since: enteredAt }, Date.now(), `${s.label} did not start`)
        : new AirmailError('DEADLINE_EXCEEDED', `aborted before ${s.label}: ${stop}`, { operator: s.label });
      current = s;
      enteredAt = Date.now();
      opts.onStep?.(s, enteredAt);
      const t0 = performance.now();
      let params: Bound | undefined;
      try {
        hydrate(s.reads);
        const def = op(s);
        params = bind(s);
        const input: RowSet = upTo === undefined ? { frame: wf, rows } : { frame: wf, rows, upTo };
        const before = rows.length;
        const stamp = rowsStamp(rows);
        if (def.kind === 'filter') {
          const out = await def.run(params, input, ctx);
          checkUntouched(input.rows, stamp, s.label);
          rows = filteredRows(out, input, s.label);
        } else if (def.kind === 'score') {
          const out = await def.run(params, input, ctx);
          checkUntouched(input.rows, stamp, s.label);
          wf.scatter(s.output!, rows, scoreValues(out, rows.length, s.label));
        } else if (def.kind === 'transform') {
          const out = transformParts(await def.run(params, input, ctx), s.label);
          checkUntouched(input.rows, stamp, s.label);
          for (const [name, col] of Object.entries(out.columns ?? {})) wf.scatter(name, rows, alignedColumn(name, col, input, s.label));
          if (out.rows) rows = selectedRows(out.rows, input, s.label);
        } else throw new AirmailError('INTERNAL', `${s.label}: a source cannot run as an operation`);
        if (trace) steps.push({ step: s.label, operator: s.use, phase, parameters: redactParams(shownParams(s, params)), rowsIn: before, rowsOut: rows.length, ms: performance.now() - t0 });
        if (obs) obs.step(s, phase, params, input.rows, rows, wf, t0, performance.now());
        if (rows.length === 0) throw new Empty(`${s.label}(${summarize(shownParams(s, params), s.given)}) returned 0 items after filtering ${before}`);
      } catch (err) {
        // The step's own span, with its error: a trace shows which step failed, not only that the run did.
        if (obs?.stepFailed && !(err instanceof Empty)) obs.stepFailed(s, phase, params, rows.length, stepError(err, s.label), t0, performance.now());
        throw err;
      }
    };

    if (!entry) {
      building = memo !== undefined;
      for (const s of plan.pre) await runStep(s, 'operation');
      building = false;
      if (memo) {
        // First request with these bound parameters: keep the candidates, then subtract this request's excludes.
        const kept = memo.put(plan, memoKeyText, wf, rows, freshUntil);
        const exc = await (pendingExcludes ?? runSources(plan.excludes, 'exclude'));
        ({ frame: wf, rows } = subtractExcludes(kept, plan.itemType, exc.map((x) => x.res)));
        if (rows.length === 0) return execute(plan, env, inputs, { ...opts, literal: true, now });
      }
    }
    for (const s of plan.scorers) await runStep(s, 'score');
    if (plan.scorers.length > 0) combineScores(wf, rows, plan.scorers);
    for (let i = 0; i < plan.post.length; i++) await runStep(plan.post[i]!, 'operation', upToOf(i));
    current = undefined;

    hydrate(plan.returns);
    const columns: Record<string, Column> = {};
    for (const c of plan.returns) columns[c] = gather(wf.column(c), rows);
    if (resultKey !== undefined) memo!.put(plan, resultKey, wf, rows, freshUntil);
    return { length: rows.length, columns, reason: null, error: false, steps, ...modelsUsed(used) };
  } catch (err) {
    if (err instanceof Empty && building) return execute(plan, env, inputs, { ...opts, literal: true, now });
    if (err instanceof Empty) return { length: 0, columns: {}, reason: err.reason, error: false, steps, ...modelsUsed(used) };
    // A step's error keeps an execution code; any other code it carries is reported beside OPERATOR_FAILED.
    const e = current ? stepError(err, current.label) : asAirmailError(err, 'OPERATOR_FAILED');
    if (e.code === 'SOURCE_FAILED') {
      return { length: 0, columns: {}, reason: e.message, error: true, errorCode: e.code, ...(e.operator ? { operator: e.operator } : {}), steps };
    }
    if (current && e.code !== 'DEADLINE_EXCEEDED' && !e.message.startsWith(current.label)) {
      throw new AirmailError(e.code, `${current.label}: ${e.message}`, { operator: e.operator ?? current.label, cause: e, ...(e.operatorCode ? { operatorCode: e.operatorCode } : {}) });
    }
    throw e;
  }
}

function combineScores(wf: WorkFrame, rows: Int32Array, scorers: readonly PlanStep[]): void {
  const out = new Float64Array(rows.length);
  for (const s of scorers) {
    const col = wf.column(s.output!) as Float64Array;
    const w = s.weight ?? 1;
    for (let k = 0; k < rows.length; k++) out[k]! += w * col[rows[k]!]!;
  }
  wf.scatter('score', rows, out);
}
