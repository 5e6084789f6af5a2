/**
 * Column flow, the compile phase that follows the steps in their order: every column a step reads
 * must be written by an earlier step or be hydratable from the items dataset, scorers must not write
 * the same column, and every returned column must exist. compile-pipeline.ts checks each step on its
 * own; this checks them together, so it lives beside it, as the next phase.
 */
import type { PlanStep } from './plan.js';
import { pathToPointer } from './refs.js';
import type { PipelineConfig } from './schema.js';
import type { Structure } from './structure.js';
import { didYouMean } from './validators.js';
import type { Report } from './compile-pipeline.js';

/** What column flow checks: the pipeline's compiled steps, and what is known of those left out. */
export interface ColumnFlow {
  /** The pipeline's sound parts (soundParts), at JSON pointer `base`. */
  readonly cfg: PipelineConfig;
  readonly base: string;
  readonly structure: Structure;
  readonly includes: readonly PlanStep[];
  readonly excludes: readonly PlanStep[];
  readonly scorers: readonly PlanStep[];
  readonly operations: readonly PlanStep[];
  /** Steps left out (their problem is reported), by pointer → the columns they would have written. */
  readonly failed: ReadonlyMap<string, readonly string[]>;
  readonly itemsDataset: string | undefined;
  /** Why the pipeline has no items dataset, when it has none. */
  readonly itemsNote: string | undefined;
  /** The items dataset's columns (none when it has none, or it is not loaded). */
  readonly itemsColumns: readonly string[];
}

/** Reports every column read or returned that nothing provides; returns the pipeline's returned columns. */
export function checkColumnFlow(flow: ColumnFlow, report: Report): string[] {
  const { cfg, base, structure, includes, excludes, scorers, operations, failed, itemsDataset, itemsNote } = flow;
  const init = cfg.initialization ?? {};
  const iptr = `${base}/initialization`;
  const scorerKey = init.scorer ? 'scorer' : 'scores';
  const known = new Set<string>([cfg.item_type, ...flow.itemsColumns]);
  const ghost = (ptr: string): void => {
    for (const c of failed.get(ptr) ?? []) known.add(c);
  };
  for (const s of [...includes, ...excludes]) for (const c of s.writes) known.add(c);
  for (const ptr of failed.keys()) if (ptr.startsWith(`${iptr}/includes/`) || ptr.startsWith(`${iptr}/excludes/`)) ghost(ptr);
  const seenOutputs = new Set<string>();
  for (const s of scorers) {
    for (const c of s.reads) if (!known.has(c)) report('UNKNOWN_COLUMN', columnPointer(s, c), unknownColumnMessage(s.label, c, itemsDataset, itemsNote, known));
    if (seenOutputs.has(s.output!)) report('CONFIG_INVALID', s.pointer, `two scorers write the column '${s.output}'; give one of them 'as:'`);
    seenOutputs.add(s.output!);
  }
  for (const c of seenOutputs) known.add(c);
  for (const ptr of failed.keys()) if (ptr.startsWith(`${iptr}/${scorerKey}/`)) ghost(ptr);
  // A scorer left out (its problem is reported already) still makes `score`.
  // So does a scores section that is not a list (reported already: a mapping where a list belongs).
  const scoresBad = structure.bad(`${iptr}/scores`) || structure.bad(`${iptr}/scorer`);
  if (scorers.length > 0 || (init.scorer ?? init.scores ?? []).length > 0 || scoresBad) known.add('score');
  const opAt = new Map(operations.map((s) => [s.pointer, s]));
  for (const i of (cfg.operations ?? []).keys()) {
    const s = opAt.get(`${base}/operations/${i}`);
    if (!s) { ghost(`${base}/operations/${i}`); continue; }
    for (const c of s.reads) if (!known.has(c)) report('UNKNOWN_COLUMN', columnPointer(s, c), unknownColumnMessage(s.label, c, itemsDataset, itemsNote, known));
    for (const c of s.writes) known.add(c);
  }
  const returns = cfg.return ?? (scorers.length > 0 ? [cfg.item_type, 'score'] : [cfg.item_type]);
  returns.forEach((c, i) => {
    if (!known.has(c)) report('UNKNOWN_COLUMN', `${base}/return/${i}`, `return names column '${c}', which no step writes${itemsDataset ? ` and dataset '${itemsDataset}' does not have` : itemsNote ? ` (${itemsNote})` : ''}${didYouMean(c, known)}`);
  });
  return returns;
}

/** Pointer to the parameter that names `column`, or to the step. */
function columnPointer(s: PlanStep, column: string): string {
  const find = (v: unknown, path: (string | number)[]): (string | number)[] | undefined => {
    if (v === column) return path;
    if (Array.isArray(v)) for (const [i, x] of v.entries()) { const r = find(x, [...path, i]); if (r) return r; }
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { const r = find(x, [...path, k]); if (r) return r; }
    return undefined;
  };
  const at = find(s.params, []);
  return at ? `${s.pointer}/parameters${pathToPointer(at)}` : s.pointer;
}

function unknownColumnMessage(label: string, column: string, itemsDataset: string | undefined, itemsNote: string | undefined, known: Iterable<string>): string {
  return `${label} reads column '${column}', which no earlier step writes${itemsDataset ? ` and the items dataset '${itemsDataset}' does not have` : ` (${itemsNote ?? 'and the pipeline has no items dataset to hydrate it from'})`}${didYouMean(column, known)}`;
}
