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
import { defineOperator, gatherOrNull, operatorError } from '../../engine/api.js';
import { checkDatasetColumns, pointer } from '../util.js';

export interface HydrateParams {
  readonly columns: readonly string[];
  /** Defaults to the pipeline's items dataset. */
  readonly dataset?: string;
}

export const hydrate = defineOperator<HydrateParams>({
  kind: 'transform',
  pure: true,
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
    const items = input.frame.items?.();
    // The frame already knows where its items live in the items dataset: reuse that mapping.
    const at = items && items.dataset === ds ? items.rowsOf(input.rows) : ds.findRows(ds.key ?? ctx.itemType, input.frame.column(ctx.itemType), input.rows);
    const columns: Record<string, Column> = {};
    params.columns.forEach((c, i) => { columns[c] = gatherOrNull(cols[i]!, at); });
    return { columns };
  },
});
