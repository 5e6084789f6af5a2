/**
 * Copies dataset columns onto the live rows, matched by item id (the
 * dataset's key, or the item-type column). Ids the dataset lacks get null.
 *
 * ```yaml
 * - name: Hydrate
 *   parameters: {columns: [department, product_id]}
 * ```
 */
import type { Column } from '../../engine/api.js';
import { defineOperator, gather, isNumeric, operatorError, valueAt } from '../../engine/api.js';
import { checkDatasetColumns, pointer } from '../util.js';

export interface HydrateParams {
  readonly columns: readonly string[];
  /** Defaults to the pipeline's items dataset. */
  readonly dataset?: string;
}

/** `col[at[k]]`, with null (NaN / code -1) where `at[k]` is -1; int columns widen to float64 to hold NaN. */
function gatherOrNull(col: Column, at: Int32Array): Column {
  let missing = false;
  const safe = new Int32Array(at.length);
  for (let k = 0; k < at.length; k++) {
    if (at[k]! < 0) missing = true;
    else safe[k] = at[k]!;
  }
  if (!missing) return gather(col, safe);
  if (isNumeric(col)) {
    const out = new Float64Array(at.length);
    for (let k = 0; k < at.length; k++) out[k] = at[k]! < 0 ? NaN : col[at[k]!]!;
    return out;
  }
  if (col.kind === 'dict') {
    const codes = new Int32Array(at.length);
    for (let k = 0; k < at.length; k++) codes[k] = at[k]! < 0 ? -1 : col.codes[at[k]!]!;
    return { kind: 'dict', codes, dictionary: col.dictionary };
  }
  return { kind: 'string', values: Array.from(at, (r) => (r < 0 ? null : (col.values[r] ?? null))) };
}

export const hydrate = defineOperator<HydrateParams>({
  kind: 'transform',
  name: 'Hydrate',
  summary: 'Adds dataset columns to the live rows, looked up by item id.',
  rowwise: true,
  parameters: {
    type: 'object',
    properties: {
      columns: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      dataset: { type: 'string', minLength: 1 },
    },
    required: ['columns'],
    additionalProperties: false,
  },
  writes: (params) => params.columns,
  check(params, env) {
    const name = params.dataset ?? env.itemsDataset;
    if (name === undefined) {
      return [{ path: '/dataset', message: 'the pipeline has no items dataset; name one with dataset:', code: 'BAD_PARAMETER' }];
    }
    return checkDatasetColumns(env, name, params.columns.map((c, i) => ({ path: pointer('columns', i), name: c })));
  },
  run(params, input, ctx) {
    const name = params.dataset ?? ctx.itemsDataset;
    if (name === undefined) throw operatorError('BAD_PARAMETER', 'the pipeline has no items dataset; name one with dataset:');
    const ds = ctx.dataset(name);
    const cols = params.columns.map((c) => ds.column(c));
    const keyCol = ds.key ?? ctx.itemType;
    const ids = input.frame.column(ctx.itemType);
    const rows = input.rows;
    const at = new Int32Array(rows.length);
    for (let k = 0; k < rows.length; k++) at[k] = ds.findRow(keyCol, valueAt(ids, rows[k]!));
    const columns: Record<string, Column> = {};
    params.columns.forEach((c, i) => { columns[c] = gatherOrNull(cols[i]!, at); });
    return { columns };
  },
});
