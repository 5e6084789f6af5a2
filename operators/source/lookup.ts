/**
 * Candidates read from a dataset: the item ids of every row whose columns
 * equal the `where` values (a list means "any of").
 *
 * ```yaml
 * - name: Lookup
 *   parameters: {dataset: inventory, where: {warehouse_id: $client.warehouse_id}, columns: [units]}
 * ```
 */
import type { Column, SourceResult } from '../../engine/api.js';
import { defineOperator, gather } from '../../engine/api.js';
import { checkDatasetColumns, datasetColumnTypes, idsAt, pointer, WHERE_SCHEMA, whereRows, whereSites, type WhereValue } from '../util.js';

export interface LookupParams {
  readonly dataset: string;
  /** Dataset column holding the item ids; defaults to the item type. */
  readonly column?: string;
  readonly where?: Readonly<Record<string, WhereValue>>;
  /** Extra dataset columns to bring along as frame columns. */
  readonly columns?: readonly string[];
}

export const lookup = defineOperator<LookupParams>({
  kind: 'source',
  pure: true,
  name: 'Lookup',
  fixed: { dataset: 'a dataset' },
  summary: 'Item ids of the dataset rows whose columns equal the given values.',
  parameters: {
    type: 'object',
    properties: {
      dataset: { type: 'string', minLength: 1 },
      column: { type: 'string', minLength: 1 },
      where: WHERE_SCHEMA,
      columns: { type: 'array', items: { type: 'string', minLength: 1 } },
    },
    required: ['dataset'],
    additionalProperties: false,
  },
  check(params, env) {
    return checkDatasetColumns(env, params.dataset, [
      { path: params.column === undefined ? '' : '/column', name: params.column ?? env.itemType, id: true },
      ...Object.keys(params.where ?? {}).map((c) => ({ path: pointer('where', c), name: c })),
      ...(params.columns ?? []).map((c, i) => ({ path: pointer('columns', i), name: c })),
    ]);
  },
  // The extra columns join the frame with their dataset types, so later steps may read them.
  writes: (params) => [...(params.columns ?? [])],
  writeTypes: (params, env) => datasetColumnTypes(env, params.dataset, params.columns),
  compares: (params) => whereSites(params.dataset, params.where),
  run(params, ctx): SourceResult {
    const ds = ctx.dataset(params.dataset);
    const idCol = ds.column(params.column ?? ctx.itemType);
    const rows = whereRows(ds, params.where);
    const ids = idsAt(idCol, rows);
    if (!params.columns || params.columns.length === 0) return { ids };
    // Extra columns must stay aligned with ids, so only the int fast path (which drops nothing) may skip the null check.
    const kept = ids.length === rows.length ? rows : rows.filter((r) => idsAt(idCol, Int32Array.of(r)).length === 1);
    const columns: Record<string, Column> = {};
    for (const c of params.columns) columns[c] = gather(ds.column(c), kept);
    return { ids, columns };
  },
});
