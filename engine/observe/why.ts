/**
 * "Why is (or is not) this item in the result?" An executor observer that
 * follows one item id: which includes produced it, which excludes contain it,
 * which operation removed it (with its parameters and the item's values of
 * the columns that operation reads), or else its score and rank.
 */
import { formatInstant, valueAt, type Column, type Frame, type SourceResult } from '../api.js';
import { stepIndex, type PlanStep } from '../config/plan.js';
import { shownParams, summarize } from '../shown-params.js';
import type { Phase, SourcePhase, StepPhase, WhyAnswer, WhyStepRef } from './types.js';

type Id = string | number;

/** The sources of a plan, in its order. */
export interface SourceOrder {
  readonly includes: readonly PlanStep[];
  readonly excludes: readonly PlanStep[];
}

function ref(s: PlanStep, params: unknown): WhyStepRef {
  return { step: s.label, index: stepIndex(s), operator: s.use, parameters: summarize(shownParams(s, params), s.given) };
}

const LISTS: Record<Phase, string> = { include: 'includes', exclude: 'excludes', score: 'scores', operation: 'operations' };
/** Where the removing step sits in the config (`operations[1]`): two steps of the same name read apart. */
function placeIn(r: WhyStepRef & { readonly phase: Phase }): string {
  return r.index >= 0 ? ` at ${LISTS[r.phase]}[${r.index}]` : '';
}

function call(r: WhyStepRef): string {
  return `${r.step}(${r.parameters})`;
}

function sameId(v: unknown, id: Id): boolean {
  return v === id || (v !== null && v !== undefined && String(v) === String(id));
}

function idsContain(ids: SourceResult['ids'], id: Id): boolean {
  if (ids instanceof Int32Array || ids instanceof Float64Array) {
    const n = typeof id === 'number' ? id : Number(id);
    return Number.isFinite(n) && ids.indexOf(n) >= 0;
  }
  for (const v of ids) if (sameId(v, id)) return true;
  return false;
}

function indexOfRow(rows: Int32Array, row: number): number {
  return row < 0 ? -1 : rows.indexOf(row);
}

/**
 * How a truncating step placed the item: its 1-based rank among the rows entering the step, by the
 * column the step ranks by (descending, ties by smaller id; `by: 'order'` for the order entering,
 * as Limit keeps it), its score, and, for a step that spreads over groups, its rank in its group.
 */
type Ranked = {
  score: number | null;
  rank: number;
  of: number;
  by: 'order' | string;
  value?: unknown;
  group?: { column: string; value: unknown; rank: number; of: number };
};

/**
 * 1-based rank of `row` among `rows` by `column` descending, nulls last, ties (nulls among
 * themselves too) by smaller id: the order DiverseSample ranks by. (Every null row used to read
 * "rank N of N".)
 */
function rankIn(frame: Frame, rows: Int32Array, row: number, column: string): { rank: number; of: number } {
  const col = frame.column(column);
  const ids = frame.column(frame.key);
  const v = valueAt(col, row);
  const mine = typeof v === 'number' ? v : null;
  const myId = valueAt(ids, row);
  let ahead = 0;
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!;
    if (r === row) continue;
    const w = valueAt(col, r);
    const s = typeof w === 'number' ? w : null;
    if (s === null && mine !== null) continue;
    if ((s !== null && mine === null) || (s !== null && s > mine!) || (s === mine && compareIds(valueAt(ids, r), myId) < 0)) ahead++;
  }
  return { rank: ahead + 1, of: rows.length };
}

/** A string parameter naming a column of the frame (DiverseSample's `maximize`, `by`; Sample's `score`). */
function columnParam(frame: Frame, params: unknown, name: string): string | undefined {
  const v = (params as Record<string, unknown>)[name];
  return typeof v === 'string' && frame.has(v) ? v : undefined;
}

/**
 * Where a count-bounded transform placed the item. A step that ranks by a column of its own
 * (`maximize`, `score`) is explained by that column, and within its `by` group when it has one;
 * one that keeps rows in the order they come (Limit) by that order.
 */
function placeOf(frame: Frame, rows: Int32Array, row: number, params: unknown): Ranked {
  const score = frame.has('score') ? (valueAt(frame.column('score'), row) as number | null) : null;
  const column = columnParam(frame, params, 'maximize') ?? columnParam(frame, params, 'score');
  if (!column) return { score, rank: indexOfRow(rows, row) + 1, of: rows.length, by: 'order' };
  const out: Ranked = { score, ...rankIn(frame, rows, row, column), by: column, value: valueAt(frame.column(column), row) };
  const by = columnParam(frame, params, 'by');
  if (by) {
    const g = frame.column(by);
    const mine = valueAt(g, row);
    const same = rows.filter((r) => valueAt(g, r) === mine);
    out.group = { column: by, value: mine, ...rankIn(frame, same, row, column) };
  }
  return out;
}

/** A transform bounded by a count (Limit, Sample, DiverseSample: `n`) cuts rather than filters. */
function isTruncation(params: unknown): boolean {
  return typeof params === 'object' && params !== null && typeof (params as { n?: unknown }).n === 'number';
}

function compareIds(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

export class WhyTracker {
  private readonly included: WhyStepRef[] = [];
  private readonly notIncluded: (WhyStepRef & { returned: number })[] = [];
  private readonly excluded: WhyStepRef[] = [];
  private removedBy: WhyAnswer['removedBy'];
  private ranked: Ranked | undefined;
  private row = -1; // -1: not a candidate (in rowFrame)
  private rowFrame: Frame | undefined;
  private lastFrame: Frame | undefined;
  private lastRows: Int32Array | undefined;
  /** Every source's ids, for the item's place when no step ran (no scorers, no operations). */
  private readonly sourceIds = new Map<PlanStep, SourceResult['ids']>();

  /** `instants`: the pipeline's timestamp columns, whose values an answer shows as ISO text. */
  constructor(readonly id: Id, private readonly instants: readonly string[] = []) {}

  private shown(column: string, v: unknown): unknown {
    return typeof v === 'number' && this.instants.includes(column) ? formatInstant(v) : v;
  }

  source(s: PlanStep, phase: SourcePhase, params: unknown, res: SourceResult): void {
    this.sourceIds.set(s, res.ids);
    const has = idsContain(res.ids, this.id);
    if (phase === 'include') {
      if (has) this.included.push(ref(s, params));
      else this.notIncluded.push({ ...ref(s, params), returned: res.ids.length });
    } else if (has) this.excluded.push(ref(s, params));
  }

  step(s: PlanStep, phase: StepPhase, params: unknown, before: Int32Array, after: Int32Array, frame: Frame): void {
    if (this.removedBy) return;
    // The executor may move to a new frame between steps (a memoised candidate set): find the item again.
    if (frame !== this.rowFrame) {
      this.row = this.find(frame, before);
      this.rowFrame = frame;
    }
    if (this.row < 0) return;
    this.lastFrame = frame;
    this.lastRows = after;
    if (indexOfRow(before, this.row) < 0) return;
    if (indexOfRow(after, this.row) >= 0) return;
    const values: Record<string, unknown> = {};
    for (const c of s.reads) if (frame.has(c)) values[c] = this.shown(c, valueAt(frame.column(c) as Column, this.row));
    this.removedBy = { ...ref(s, params), phase: phase as Phase, rowsIn: before.length, rowsOut: after.length, values };
    if (s.kind === 'transform' && isTruncation(params)) {
      const ranked = placeOf(frame, before, this.row, params);
      this.ranked = ranked.value !== undefined ? { ...ranked, value: this.shown(ranked.by, ranked.value) } : ranked;
    }
    else if (frame.has('score')) this.ranked = { score: valueAt(frame.column('score'), this.row) as number | null, rank: 0, of: 0, by: 'score' };
  }

  private find(frame: Frame, rows: Int32Array): number {
    const ids = frame.column(frame.key);
    for (let k = 0; k < rows.length; k++) if (sameId(valueAt(ids, rows[k]!), this.id)) return rows[k]!;
    return -1;
  }

  /**
   * The item's 1-based place among the candidates (includes' first appearances in plan order, minus
   * the excludes' ids), and how many there are: the result of a pipeline with no step.
   */
  private placeInUnion(plan: SourceOrder): { rank: number; of: number } | undefined {
    const out = new Set<string>();
    for (const s of plan.excludes) for (const v of this.sourceIds.get(s) ?? []) out.add(String(v));
    const seen = new Set<string>();
    let rank = 0;
    for (const s of plan.includes) {
      const ids = this.sourceIds.get(s);
      if (!ids) return undefined;
      for (const v of ids) {
        const k = String(v);
        if (seen.has(k) || out.has(k)) continue;
        seen.add(k);
        if (rank === 0 && sameId(v, this.id)) rank = seen.size;
      }
    }
    return rank > 0 ? { rank, of: seen.size } : undefined;
  }

  /** The answer, given how the run ended (`plan`: its includes and excludes, for a run with no step). */
  answer(out: { readonly length: number; readonly reason: string | null; readonly error: boolean }, errorMessage?: string, plan?: SourceOrder): WhyAnswer {
    const base = { item: this.id, includedBy: this.included, notIncludedBy: this.notIncluded, excludedBy: this.excluded };
    if (errorMessage !== undefined || out.error) {
      return { ...base, verdict: 'error', reason: `the pipeline failed: ${errorMessage ?? out.reason ?? 'error'}` };
    }
    if (this.included.length === 0) {
      const srcs = this.notIncluded.map((r) => `${call(r)} returned ${r.returned}`).join(', ');
      if (this.notIncluded.length === 0 && out.reason) return { ...base, verdict: 'empty', reason: `no include ran: ${out.reason}` };
      return { ...base, verdict: 'not_included', reason: `no include produced item ${this.id}: ${srcs || 'the pipeline has no includes'}, none of them with ${this.id}` };
    }
    const by = this.included.map(call).join(' and ');
    if (this.excluded.length > 0) {
      return { ...base, verdict: 'excluded', reason: `included by ${by}, then removed by exclude ${this.excluded.map(call).join(' and ')}` };
    }
    const rb = this.removedBy;
    if (rb) {
      const vals = Object.entries(rb.values).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
      if (this.ranked && this.ranked.rank > 0) {
        const r = this.ranked;
        const scored = typeof r.score === 'number' ? `scored ${r.score.toPrecision(6)}, ` : '';
        const shown = (v: unknown): string => (typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(6) : JSON.stringify(v) ?? 'null');
        const group = r.group ? ` (${r.group.rank} of ${r.group.of} with ${r.group.column}=${JSON.stringify(r.group.value) ?? 'null'})` : '';
        const placed = r.by === 'order'
          ? `${scored}rank ${r.rank} of ${r.of} in the order entering ${rb.step}`
          : `${r.by === 'score' ? '' : scored}${r.by} ${shown(r.value)}, rank ${r.rank} of ${r.of} by ${r.by}${group}`;
        return { ...base, verdict: 'cut', removedBy: rb, score: r.score, rank: r.rank, of: r.of, rankedBy: r.by,
          reason: `included by ${by}; ${placed}, and cut by ${call(rb)}${placeIn(rb)}, which kept ${rb.rowsOut} of ${rb.rowsIn}` };
      }
      return { ...base, verdict: 'filtered', removedBy: rb, ...(this.ranked ? { score: this.ranked.score } : {}),
        reason: `included by ${by}, then removed by ${call(rb)}${placeIn(rb)}${vals ? ` (the item has ${vals})` : ''}, which kept ${rb.rowsOut} of ${rb.rowsIn}` };
    }
    if (out.length === 0) return { ...base, verdict: 'empty', reason: `the result is empty: ${out.reason ?? 'no items'}` };
    const f = this.lastFrame;
    const rows = this.lastRows;
    if (f && rows && this.row >= 0 && indexOfRow(rows, this.row) >= 0) {
      const pos = indexOfRow(rows, this.row) + 1;
      const score = f.has('score') ? (valueAt(f.column('score'), this.row) as number | null) : undefined;
      return { ...base, verdict: 'kept', rank: pos, of: rows.length, ...(score !== undefined ? { score } : {}),
        reason: `included by ${by} and kept: position ${pos} of ${rows.length} in the result${typeof score === 'number' ? `, score ${score.toPrecision(6)}` : ''}` };
    }
    // No scorer and no operation ran: the result is the candidates in their order.
    const at = plan ? this.placeInUnion(plan) : undefined;
    if (at) return { ...base, verdict: 'kept', rank: at.rank, of: at.of, reason: `included by ${by} and kept: position ${at.rank} of ${at.of} in the result (the pipeline has no operations)` };
    return { ...base, verdict: 'kept', reason: `included by ${by} and kept (the pipeline has no operations)` };
  }
}
