/**
 * The compiled, serializable form of a pipeline (what workers execute) and
 * the planner that reorders it: row-wise filters and transforms that read no
 * scorer output move before the scorers, so models score only surviving rows.
 * Results are identical to the literal order because such steps decide each
 * row's fate from that row alone.
 */
import type { OperatorKind } from '../api.js';
import { setAt, type RefSite } from './refs.js';
import { basename, isAbsolute, relative, sep } from 'node:path';
import { redactParams } from '../redact.js';
import { formatInstant, resolveBound } from '../time.js';

export interface PlanStep {
  /** The name the config used (a preset such as `MatchDepartment`, or an operator). */
  readonly label: string;
  /** The operator that runs. */
  readonly use: string;
  readonly kind: OperatorKind;
  /** Parameters after preset merge, defaults and normalisation; references still as `$...` strings. */
  readonly params: Readonly<Record<string, unknown>>;
  readonly sites: readonly RefSite[];
  /** Parameter keys the config gave (the rest are schema defaults); reasons and logs show these. */
  readonly given: readonly string[];
  readonly reads: readonly string[];
  readonly writes: readonly string[];
  /** Scorers: the column the score lands in, and its weight in `score`. */
  readonly output?: string;
  readonly weight?: number;
  readonly rowwise: boolean;
  /** The operator is pure (see OperatorDefinition.pure). */
  readonly pure: boolean;
  /** How long its result may be reused when it is not pure (OperatorDefinition.memoTtlMs). */
  readonly memoTtlMs?: number;
  /** Where it came from, for messages. */
  readonly pointer: string;
}

/**
 * A step's 0-based position in its list of the config (`initialization.includes`, `excludes`,
 * `scores` or `operations`: the last segment of its pointer). The debug trace and /why give it, so
 * two steps of the same name (two `Match`es) are told apart, and a why's step found in the trace.
 */
export function stepIndex(s: Pick<PlanStep, 'pointer'>): number {
  const m = /\/(\d+)$/.exec(s.pointer);
  return m ? Number(m[1]) : -1;
}

export interface PlanContext {
  readonly name: string;
  readonly dataset: string;
  readonly column: string;
  /** A literal key or a `$input` reference. */
  readonly key: unknown;
}

export interface Plan {
  readonly name: string;
  readonly version: string;
  readonly itemType: string;
  readonly itemsDataset: string | undefined;
  readonly contexts: readonly PlanContext[];
  readonly includes: readonly PlanStep[];
  readonly excludes: readonly PlanStep[];
  /** Operations moved before the scorers by the planner. */
  readonly pre: readonly PlanStep[];
  readonly scorers: readonly PlanStep[];
  readonly post: readonly PlanStep[];
  readonly returns: readonly string[];
  /** Columns that hold instants (timestamp): answered, and shown by why, as ISO 8601 text. */
  readonly instants?: readonly string[];
  /** Includes and pre-scoring steps are all pure: their candidates can be memoised (see memo.ts). */
  readonly memo: boolean;
  /**
   * Besides `memo`, no excludes and every later step pure: the whole result depends only on
   * the bound parameters, so it is memoised too (a curated list, a context-only pipeline).
   */
  readonly memoResult: boolean;
  /** When `memo`: how long an entry lives (ms; absent = as long as the plan). */
  readonly memoTtlMs?: number;
}

export interface PlanDraft extends Omit<Plan, 'pre' | 'post' | 'version' | 'memo' | 'memoResult' | 'memoTtlMs'> {
  readonly operations: readonly PlanStep[];
}

/** Splits operations into the prefix that can run before scoring and the rest. */
export function planOperations(draft: PlanDraft): { pre: PlanStep[]; post: PlanStep[] } {
  const scoreColumns = new Set<string>(['score', ...draft.scorers.map((s) => s.output ?? '')]);
  const pre: PlanStep[] = [];
  let i = 0;
  if (draft.scorers.length > 0) {
    for (; i < draft.operations.length; i++) {
      const op = draft.operations[i]!;
      const movable = op.rowwise && op.reads.every((c) => !scoreColumns.has(c)) && op.writes.every((c) => !scoreColumns.has(c));
      if (!movable) break;
      pre.push(op);
    }
  }
  return { pre, post: draft.operations.slice(i) };
}

/** The plan as people read it (GET /pipelines/{name}/explain). */
/**
 * Parameters as a reader of the config knows them: a file path inside `dir` (the pipeline file's
 * folder, which paths in it resolve against) relative to it, as written, and a pinned model copy
 * by its file name (the sha256 and the name; its folder is this process's own). The server's own
 * folders are not shown on a public route.
 */
function asWritten(v: unknown, dir: string | undefined, key?: string): unknown {
  if (typeof v === 'string') {
    if (key === 'pinned') return basename(v);
    return dir && isAbsolute(v) && v.startsWith(dir + sep) ? relative(dir, v) : v;
  }
  if (Array.isArray(v)) return v.map((x) => asWritten(x, dir));
  if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asWritten(x, dir, k)]));
  return v;
}

/** A time bound relative to now as debug steps show it, resolved at `now`: `2024-09-05T00:00:00Z (now-30d)`. */
function withTimes(s: PlanStep, params: unknown, now: number | undefined): unknown {
  let out = params;
  if (now === undefined) return out;
  for (const site of s.sites) {
    if (site.ref.kind === 'time' && site.ref.bound.kind === 'relative') out = setAt(out, site.path, `${formatInstant(resolveBound(site.ref.bound, now))} (${site.text})`);
  }
  return out;
}

/**
 * `dir`: the folder of the pipeline's file; paths in it are shown relative to it. `now`: the
 * request's now (x-airmail-now, or the clock): relative time bounds are shown resolved at it.
 */
export function explainPlan(plan: Plan, literal: readonly PlanStep[], dir?: string, now?: number): Record<string, unknown> {
  const show = (s: PlanStep): Record<string, unknown> => ({
    step: s.label,
    operator: s.use,
    kind: s.kind,
    // Public (GET /pipelines/{name}/explain): URLs without user info or query (expanded {env:} values).
    parameters: redactParams(withTimes(s, asWritten(s.params, dir), now)),
    reads: s.reads,
    writes: s.writes,
    ...(s.output ? { output: s.output, weight: s.weight } : {}),
  });
  const order: Record<string, unknown>[] = [];
  order.push({ phase: 'context', lookups: plan.contexts.map((c) => ({ name: c.name, dataset: c.dataset, column: c.column, key: c.key })) });
  order.push({ phase: 'includes', concurrent: true, combine: 'union', steps: plan.includes.map(show) });
  if (plan.excludes.length) order.push({ phase: 'excludes', concurrent: true, combine: 'subtract', steps: plan.excludes.map(show) });
  if (plan.pre.length) order.push({ phase: 'operations before scoring', steps: plan.pre.map(show) });
  if (plan.memo && !plan.memoResult) order.push({ phase: 'memo', note: 'includes and the operations before scoring are pure: their candidates are memoised per thread under their bound parameters, and excludes are subtracted per request' });
  if (plan.memoResult) order.push({ phase: 'memo', note: 'every step is pure and nothing is excluded: the result is memoised per thread under the bound parameters, and a request with the same parameters runs no step' });
  if (plan.scorers.length) order.push({ phase: 'scorers', combine: 'score = sum(weight * output)', steps: plan.scorers.map(show) });
  if (plan.post.length) order.push({ phase: 'operations', steps: plan.post.map(show) });
  order.push({ phase: 'return', columns: plan.returns });
  const moved = plan.pre.map((s) => s.label);
  const timed = now !== undefined && [...plan.includes, ...plan.excludes, ...plan.pre, ...plan.scorers, ...plan.post].some((s) => s.sites.some((x) => x.ref.kind === 'time'));
  return {
    pipeline: plan.name,
    version: plan.version,
    // The now its relative time bounds were resolved at, when it has some.
    ...(timed ? { now: formatInstant(now) } : {}),
    item_type: plan.itemType,
    items_dataset: plan.itemsDataset ?? null,
    literal_order: literal.map((s) => s.label),
    plan: order,
    rewrites: moved.length
      ? [`moved ${moved.join(', ')} before the scorers: they are row-wise and read no scorer output, so the scorers only see surviving rows`]
      : [],
    notes: ['columns read by a step are gathered from the items dataset only for rows still alive at that step'],
  };
}
