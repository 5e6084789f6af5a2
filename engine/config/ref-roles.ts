/**
 * Where a request input may not stand. Columns are checked when the config loads (they exist,
 * they hold the right type, they are hydrated for the rows alive), so a column a step reads or
 * writes named by `$input` could never be checked nor gathered: it failed every request with
 * UNKNOWN_COLUMN, or did nothing. And a reference is one value or a list of values, never a whole
 * object of them (`where: $w`), which the operator's own check would read as text. Both are load
 * errors at the reference. So is a reference for a parameter the operator declares `fixed` (it
 * names a dataset, a model or a file, loaded and checked before any request).
 */
import type { CheckEnv, JsonSchema, OperatorDefinition } from '../api.js';
import { pathToPointer, subSchema, type RefSite } from './refs.js';

export interface RefRoleProblem { readonly path: string; readonly message: string }

const names = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

export function refRoleProblems(def: OperatorDefinition, params: Record<string, unknown>, env: CheckEnv, sites: readonly RefSite[]): RefRoleProblem[] {
  if (sites.length === 0) return [];
  const out: RefRoleProblem[] = [];
  const objectOnly = sites.filter((s) => {
    const t = subSchema(def.parameters as JsonSchema, s.path)?.['type'];
    return t === 'object' || (Array.isArray(t) && t.length > 0 && t.every((x) => x === 'object'));
  });
  for (const s of objectOnly) {
    out.push({ path: pathToPointer(s.path), message: `${s.text}: '${s.path.join('.')}' is an object of its own; a reference stands for one value or a list, so reference its values instead ({column: ${s.text}})` });
  }
  const fixed = def.fixed ?? {};
  const fixedSites = sites.filter((s) => !objectOnly.includes(s) && Object.hasOwn(fixed, String(s.path[0])));
  for (const s of fixedSites) {
    const what = fixed[String(s.path[0])]!;
    out.push({ path: pathToPointer(s.path), message: `${s.text}: '${String(s.path[0])}' names ${what}, which is checked when the config loads, so a request input cannot choose it: write it in the config (to choose per request, write one step or pipeline for each)` });
  }
  let columns: unknown[];
  try {
    columns = [...names(def.reads?.(params, env)), ...(def.kind === 'score' ? [] : names(def.writes?.(params, env)))];
  } catch {
    columns = [];
  }
  const named = new Set(columns.filter((c): c is string => typeof c === 'string'));
  for (const s of sites) {
    if (objectOnly.includes(s) || fixedSites.includes(s) || !named.has(s.text)) continue;
    out.push({ path: pathToPointer(s.path), message: `${s.text} names a column, and columns are checked when the config loads, so a request input cannot choose one: write the column's name` });
  }
  return out;
}
