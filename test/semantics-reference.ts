/**
 * An independent reference interpreter of the pipeline language, written from
 * the README's "Writing pipelines" and "Built-in operators" sections only (not
 * from the engine's source), and a seeded generator of worlds (datasets),
 * pipelines and request inputs over those operators. The differential test
 * (semantics-differential.test.ts) runs each generated case through the real
 * engine and compares it with `interpret`.
 *
 * The README's words each rule rests on are quoted beside it.
 */

export type Id = number | string;
export type Row = Record<string, unknown>;
export interface World { name: string; ids: 'int' | 'str'; items: Row[]; links: Row[] }
export interface Step { name: string; parameters?: Record<string, unknown>; as?: string; weight?: number }
export interface Pipeline {
  name: string; item_type: 'id'; items: string;
  initialization: { includes: Step[]; excludes?: Step[]; scores?: Step[] };
  operations?: Step[]; return?: string[];
  context?: Record<string, { dataset: string; key: string }>;
}
export interface Case { world: World; pipeline: Pipeline; inputs: Record<string, unknown>; expectStatus: number; expectCode?: string }

/** mulberry32, the seeded generator the demo data is made with (integer arithmetic: the same stream everywhere). */
export { mulberry32 as prng } from '../scripts/make-demo.js';

// ------------------------------------------------------------------ the interpreter

const isNull = (v: unknown): boolean => v === null || v === undefined;

/** The now of every semantics case (the engines under test take it as their clock): 2024-10-10T12:00:00Z. */
export const SEM_NOW = Date.UTC(2024, 9, 10, 12);
const DAY = 86_400_000;
/**
 * README "Dates and time windows": a time bound is an ISO 8601 instant (a date alone is midnight UTC) or
 * `now`, `now-Nd`, `now-Nh`, optionally `/d` (rounded down to the start of the day, UTC).
 */
export function timeBound(v: unknown): number | undefined {
  if (isNull(v)) return undefined;
  if (typeof v !== 'string') throw new Error(`reference: time bound ${JSON.stringify(v)}`);
  const m = /^now(?:([+-])(\d+)([hd]))?(\/d)?$/.exec(v);
  if (!m) return Date.parse(/T/.test(v) ? v : `${v}T00:00:00Z`);
  const at = SEM_NOW + (m[1] ? (m[1] === '-' ? -1 : 1) * Number(m[2]) * (m[3] === 'd' ? DAY : 3_600_000) : 0);
  return m[4] ? Math.floor(at / DAY) * DAY : at;
}
/** A cell of the timestamp column (`at`, ISO text in the world) within bounds, both inclusive unless told. */
function inWindow(cell: unknown, lo: number | undefined, hi: number | undefined, loIn = true, hiIn = true): boolean {
  if (isNull(cell)) return false;
  const x = Date.parse(String(cell));
  return !(lo !== undefined && (loIn ? x < lo : x <= lo)) && !(hi !== undefined && (hiIn ? x > hi : x >= hi));
}

/** "an item id that the items dataset does not hold reads as null"; "where several rows hold the same key, the first of them is used". */
function hydrator(world: World): (id: Id, column: string) => unknown {
  const first = new Map<Id, Row>();
  for (const r of world.items) if (!first.has(r['id'] as Id)) first.set(r['id'] as Id, r);
  return (id, column) => first.get(id)?.[column] ?? null;
}

/** "ties: smaller item id first" — numbers by value, text ids by code units (README: unstated for text). */
const idCmp = (a: Id, b: Id): number => (typeof a === 'number' && typeof b === 'number' ? a - b : a < b ? -1 : a > b ? 1 : 0);

/** "`$name` is a request input; `$context.column` is a column of a context row"; a context row matched against the dataset's key (the first row holding it). */
function bind(v: unknown, inputs: Record<string, unknown>, rows: Record<string, Row | undefined> = {}): unknown {
  if (typeof v === 'string' && v.startsWith('$')) {
    const [a, b] = v.slice(1).split('.');
    return b === undefined ? inputs[a!] : (rows[a!]?.[b] ?? null);
  }
  if (Array.isArray(v)) return v.map((x) => bind(x, inputs, rows));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, bind(x, inputs, rows)]));
  return v;
}

/** Lookup: "where: {column: value or [values]} (all must match)"; a repeated id is one candidate. Static: a list of ids. */
function source(world: World, s: Step): Id[] {
  return sourceRows(world, s).map((r) => r['id'] as Id);
}

/** The rows a source answers (a Lookup's `columns:` bring those columns along). */
function sourceRows(world: World, s: Step): Row[] {
  const p = s.parameters ?? {};
  if (s.name === 'Static') return (p['items'] as Id[]).map((id) => ({ id }));
  const rows = String(p['dataset']).startsWith('links') ? world.links : world.items;
  const where = (p['where'] ?? {}) as Record<string, unknown>;
  return rows.filter((r) => Object.entries(where).every(([c, v]) => {
    const cell = r[c];
    if (isNull(cell)) return false;
    // "a window: `purchased_at: {min: now-30d}`, rows whose value lies between min and max, both inclusive"
    if (v && typeof v === 'object' && !Array.isArray(v)) { const w = v as { min?: unknown; max?: unknown }; return inWindow(cell, timeBound(w.min), timeBound(w.max)); }
    return Array.isArray(v) ? v.includes(cell) : cell === v;
  }));
}

export interface Answer { items: Row[] }

/**
 * What happened to one item id, as the README's "Why" says `POST /pipelines/{name}/why` answers:
 * no include produced it (`unknown_item` when the items dataset does not hold it), an exclude held
 * it, an operation removed it (`filtered`; `cut` for a truncation: Limit, Offset, DiverseSample,
 * Sample), or it was kept at a 1-based position with its score; `empty` when no include ran (a
 * context key no row holds).
 */
export type Fate =
  | { verdict: 'empty' | 'not_included' | 'unknown_item' }
  | { verdict: 'excluded'; excludes: number[] }
  | { verdict: 'filtered' | 'cut'; step: number; operator: string }
  | { verdict: 'kept'; rank: number; of: number; score?: number | null };

/** One row of the `?debug=true` trace: includes, excludes, scorers, operations, in that order. */
export interface TraceStep { phase: 'include' | 'exclude' | 'score' | 'operation'; operator: string; rowsIn: number; rowsOut: number }

export interface Trace {
  steps: TraceStep[];
  fate(id: Id): Fate;
  /** Indices of the includes that produced the id. */
  includedBy(id: Id): number[];
  /** The ids entering each operation, in order. */
  entering: Id[][];
  /** A row's value of a column (after the run: scorer columns, brought-along columns, hydrated ones). */
  value(id: Id, column: string): unknown;
}

/** "a `Limit`, `Sample` or `DiverseSample` truncation" is a cut; Offset drops rows by count too. */
const CUTS = new Set(['Limit', 'Offset', 'DiverseSample', 'Sample']);

/**
 * Runs a pipeline (already bound to its inputs) over a world.
 * Candidate order before any Sort: first appearance, includes in order, each in its own order
 * (README, now stated under "Writing pipelines").
 */
export function interpret(world: World, pipeline: Pipeline, inputs: Record<string, unknown>): Answer {
  return { items: run(world, pipeline, inputs).items };
}

/** `interpret`, with what happened to every item and the per-step counts. */
export function run(world: World, pipeline: Pipeline, inputs: Record<string, unknown>): Answer & Trace {
  const steps: TraceStep[] = [];
  const includedBy = new Map<Id, number[]>();
  const excludedBy = new Map<Id, number[]>();
  const removedAt = new Map<Id, number>();
  const known = new Set(world.items.map((r) => r['id'] as Id));
  let final: Id[] = [];
  let ran = false;
  let scoreOf: ((id: Id) => number | null) | undefined;
  const entering: Id[][] = [];
  let value: (id: Id, column: string) => unknown = () => null;
  const includes = (id: Id): number[] => includedBy.get(id) ?? [];
  const fate = (id: Id): Fate => {
    if (!ran) return { verdict: 'empty' };
    if (!includedBy.has(id)) return { verdict: known.has(id) ? 'not_included' : 'unknown_item' };
    if (excludedBy.has(id)) return { verdict: 'excluded', excludes: excludedBy.get(id)! };
    const at = removedAt.get(id);
    if (at !== undefined) {
      const operator = (pipeline.operations ?? [])[at]!.name;
      return { verdict: CUTS.has(operator) ? 'cut' : 'filtered', step: at, operator };
    }
    const pos = final.indexOf(id);
    return { verdict: 'kept', rank: pos + 1, of: final.length, ...(scoreOf ? { score: scoreOf(id) } : {}) };
  };
  const rows: Record<string, Row | undefined> = {};
  for (const [name, c] of Object.entries(pipeline.context ?? {})) rows[name] = world.items.find((r) => r['id'] === inputs[c.key.slice(1)]);
  // A key no row holds: no items, not an error (README, now stated under "References").
  if (Object.values(rows).some((r) => r === undefined)) return { items: [], steps, fate, includedBy: includes, entering, value };
  ran = true;
  const pl = bind({ ...pipeline, context: undefined }, inputs, rows) as Pipeline;
  const hyd = hydrator(world);
  // "candidates = Union(includes) − Union(excludes), keyed by item_type"
  const seen = new Set<Id>();
  let ids: Id[] = [];
  pl.initialization.includes.forEach((s, k) => {
    const got = source(world, s);
    steps.push({ phase: 'include', operator: s.name, rowsIn: 0, rowsOut: got.length });
    for (const id of got) {
      if (!includedBy.has(id)) includedBy.set(id, []);
      if (!includedBy.get(id)!.includes(k)) includedBy.get(id)!.push(k);
      if (!seen.has(id)) { seen.add(id); ids.push(id); }
    }
  });
  // Columns a Lookup brings along (`columns:`): a row's value comes from the first include that
  // produced its id and brings that column (README, now stated in the Lookup row), its first row there.
  const cols = new Map<string, Map<Id, unknown>>();
  for (const s of pl.initialization.includes) {
    for (const c of (s.parameters?.['columns'] ?? []) as string[]) {
      const col = cols.get(c) ?? new Map<Id, unknown>();
      cols.set(c, col);
      for (const r of sourceRows(world, s)) if (!col.has(r['id'] as Id)) col.set(r['id'] as Id, r[c] ?? null);
    }
  }
  const out = new Set<Id>();
  (pl.initialization.excludes ?? []).forEach((s, k) => {
    const got = source(world, s);
    steps.push({ phase: 'exclude', operator: s.name, rowsIn: 0, rowsOut: got.length });
    for (const id of got) {
      out.add(id);
      if (!excludedBy.has(id)) excludedBy.set(id, []);
      if (!excludedBy.get(id)!.includes(k)) excludedBy.get(id)!.push(k);
    }
  });
  ids = ids.filter((id) => !out.has(id));
  const candidates = ids.length;
  const scoreSteps: TraceStep[] = [];
  const opSteps: TraceStep[] = [];
  // "each adds a column; score = sum(weight * column)"; "a null Column makes that row's score null too"
  const scores = pl.initialization.scores ?? [];
  if (scores.length > 0) {
    const total = new Map<Id, number | null>(ids.map((id) => [id, 0]));
    for (const s of scores) {
      const as = s.as ?? 'column';
      const col = new Map<Id, unknown>();
      for (const id of ids) {
        const raw = hyd(id, s.parameters!['column'] as string);
        const v = isNull(raw) ? null : Number(raw);
        col.set(id, v);
        const t = total.get(id)!;
        total.set(id, t === null || v === null ? null : t + (s.weight ?? 1) * v);
      }
      cols.set(as, col);
      scoreSteps.push({ phase: 'score', operator: s.name, rowsIn: ids.length, rowsOut: ids.length });
    }
    cols.set('score', total);
    scoreOf = (id) => total.get(id) ?? null;
  }
  const val = (id: Id, c: string): unknown => (c === 'id' ? id : cols.has(c) ? (cols.get(c)!.get(id) ?? null) : hyd(id, c));
  value = val;
  (pl.operations ?? []).forEach((s, k) => {
    entering.push(ids);
    const next = operation(world, s, ids, val);
    opSteps.push({ phase: 'operation', operator: s.name, rowsIn: ids.length, rowsOut: next.length });
    const alive = new Set(next);
    for (const id of ids) if (!alive.has(id)) removedAt.set(id, k);
    ids = next;
  });
  final = ids;
  if (candidates > 0) steps.push(...runOrder(pl, candidates, scoreSteps, opSteps));
  const ret = pl.return ?? ['id', ...(scores.length > 0 ? ['score'] : [])];
  return { items: ids.map((id) => Object.fromEntries(ret.map((c) => [c, val(id, c)]))), steps, fate, includedBy: includes, entering, value };
}

/**
 * The debug trace lists the steps in the order they ran (README "Debug"): "the planner moves the
 * leading row-wise steps that read no score (hydration, filters) before the scorers" ("How it
 * runs"), and a run ends at the step that leaves no rows (nor does one whose candidates are none
 * run any scorer or operation).
 */
function runOrder(pl: Pipeline, candidates: number, scoreSteps: TraceStep[], opSteps: TraceStep[]): TraceStep[] {
  const ops = pl.operations ?? [];
  const scoreCols = new Set(['score', ...(pl.initialization.scores ?? []).map((s) => s.as ?? 'column')]);
  const reads = (s: Step): string[] => {
    const p = s.parameters ?? {};
    return s.name === 'Hydrate' ? (p['columns'] as string[]) : typeof p['column'] === 'string' ? [p['column']] : [];
  };
  let pre = 0;
  if (scoreSteps.length > 0) {
    while (pre < ops.length && ['Hydrate', 'Match', 'Range', 'Exclude'].includes(ops[pre]!.name) && reads(ops[pre]!).every((c) => !scoreCols.has(c))) pre++;
  }
  const alive = pre > 0 ? opSteps[pre - 1]!.rowsOut : candidates;
  const order = [...opSteps.slice(0, pre), ...scoreSteps.map((s) => ({ ...s, rowsIn: alive, rowsOut: alive })), ...opSteps.slice(pre)];
  const end = order.findIndex((s) => s.rowsOut === 0);
  return end < 0 ? order : order.slice(0, end + 1);
}

/** Descending by a number column, nulls last, ties by smaller id: the rank inside DiverseSample. */
export function byDesc(val: (id: Id, c: string) => unknown, c: string) {
  return (a: Id, b: Id): number => {
    const x = val(a, c) as number | null;
    const y = val(b, c) as number | null;
    if (isNull(x) !== isNull(y)) return isNull(x) ? 1 : -1;
    if (!isNull(x) && x !== y) return (y as number) - (x as number);
    return idCmp(a, b);
  };
}

function operation(world: World, s: Step, ids: Id[], val: (id: Id, c: string) => unknown): Id[] {
  const p = s.parameters ?? {};
  switch (s.name) {
    case 'Hydrate': return ids;
    case 'Match': {
      // "`==`/`in` never keep a null, so `!=`/`not_in` (their exact complement) always do"
      const op = (p['op'] as string | undefined) ?? '==';
      const list = Array.isArray(p['value']) ? (p['value'] as unknown[]) : [p['value']];
      const hit = (id: Id): boolean => { const v = val(id, p['column'] as string); return !isNull(v) && list.includes(v); };
      return ids.filter((id) => (op === '==' || op === 'in' ? hit(id) : !hit(id)));
    }
    case 'Range': {
      // "`Range` drops nulls"; min_inclusive, max_inclusive default true
      const lo = p['min'] as number | undefined, hi = p['max'] as number | undefined;
      const loIn = p['min_inclusive'] !== false, hiIn = p['max_inclusive'] !== false;
      if (p['column'] === 'at') return ids.filter((id) => inWindow(val(id, 'at'), timeBound(p['min']), timeBound(p['max']), loIn, hiIn));
      return ids.filter((id) => {
        const v = val(id, p['column'] as string);
        if (isNull(v)) return false;
        const x = Number(v);
        if (lo !== undefined && (loIn ? x < lo : x <= lo)) return false;
        if (hi !== undefined && (hiIn ? x > hi : x >= hi)) return false;
        return true;
      });
    }
    case 'Exclude': {
      // "`ids`, or `dataset` + `where` (+ `column`): drops those item ids"
      const drop = new Set(p['ids'] ? (p['ids'] as Id[]) : source(world, { name: 'Lookup', parameters: p }));
      return ids.filter((id) => !drop.has(id));
    }
    case 'Sort': {
      // "`desc` (default false); ties: smaller item id first"; "`Sort` puts nulls last in both directions"
      // Text sorts by code units, as text ids do ("B" < "a" < "b" < "ä"; README, now stated in the table).
      const c = (p['by'] ?? p['score']) as string;
      const desc = p['desc'] === true;
      return ids.slice().sort((a, b) => {
        const x = val(a, c) as Id | null, y = val(b, c) as Id | null;
        if (isNull(x) !== isNull(y)) return isNull(x) ? 1 : -1;
        if (!isNull(x) && x !== y) return (desc ? -1 : 1) * idCmp(x as Id, y as Id);
        return idCmp(a, b);
      });
    }
    case 'Limit': return ids.slice(0, p['n'] as number);
    // "`n`: drops the first `n` rows in the current order"
    case 'Offset': return ids.slice(p['n'] as number);
    case 'Pin': {
      // "`ids` (in that order), or `column` (rows with a value in it, in its order; `desc`, default
      // false): moves those rows to the front, the others keep their order". An id listed twice is
      // pinned at its first place; ties of `column`, as in Sort: smaller item id first (README: unstated).
      let pinned: Id[];
      if (p['ids'] !== undefined) {
        const list = (Array.isArray(p['ids']) ? p['ids'] : [p['ids']]) as Id[];
        const here = new Set(ids);
        pinned = [...new Set(list)].filter((id) => here.has(id));
      } else {
        const c = p['column'] as string;
        const desc = p['desc'] === true;
        pinned = ids.filter((id) => !isNull(val(id, c))).sort((a, b) => {
          const x = val(a, c) as Id, y = val(b, c) as Id;
          return x !== y ? (desc ? -1 : 1) * idCmp(x, y) : idCmp(a, b);
        });
      }
      const front = new Set(pinned);
      return [...pinned, ...ids.filter((id) => !front.has(id))];
    }
    case 'Dedupe': {
      // "keeps the first row of each value, or the first `keep`"; "null as one group of its own"
      const by = (Array.isArray(p['by']) ? p['by'] : [p['by']]) as string[];
      const keep = (p['keep'] as number | undefined) ?? 1;
      const count = new Map<string, number>();
      return ids.filter((id) => {
        const k = JSON.stringify(by.map((c) => val(id, c) ?? null));
        const n = count.get(k) ?? 0;
        count.set(k, n + 1);
        return n < keep;
      });
    }
    case 'DiverseSample': {
      // issue: rank inside each `by` group by maximize desc (ties: smaller id) as r; order by (r, maximize desc, id); take n
      const m = p['maximize'] as string, by = p['by'] as string;
      const groups = new Map<string, Id[]>();
      for (const id of ids) { const k = JSON.stringify(val(id, by) ?? null); groups.set(k, [...(groups.get(k) ?? []), id]); }
      const rank = new Map<Id, number>();
      for (const g of groups.values()) g.sort(byDesc(val, m)).forEach((id, r) => rank.set(id, r));
      const cmp = byDesc(val, m);
      return ids.slice().sort((a, b) => rank.get(a)! - rank.get(b)! || cmp(a, b)).slice(0, p['n'] as number);
    }
    default: throw new Error(`the reference has no operator ${s.name}`);
  }
}
