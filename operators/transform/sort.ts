/**
 * Orders rows by a column, ascending unless `desc`. Ties go to the smaller
 * item id; NaN / null sort last in either direction. `score:` is accepted as
 * another spelling of `by:` (the seed config uses it).
 *
 * ```yaml
 * - name: Sort
 *   parameters: {by: score, desc: true}
 * ```
 */
import { defineOperator, operatorError } from '../../engine/api.js';
import { firstBy, orderBy } from '../util.js';

export interface SortParams {
  readonly by?: string;
  /** Another spelling of `by`. */
  readonly score?: string;
  readonly desc: boolean;
}

function sortColumn(params: SortParams): string {
  const c = params.by ?? params.score;
  if (typeof c !== 'string') throw operatorError('BAD_PARAMETER', "Sort needs 'by' (or 'score'): the column to order by");
  return c;
}

export const sort = defineOperator<SortParams>({
  kind: 'transform',
  name: 'Sort',
  pure: true,
  summary: 'Orders rows by a column (ties by item id, missing values last).',
  parameters: {
    type: 'object',
    properties: {
      by: { type: 'string', minLength: 1 },
      score: { type: 'string', minLength: 1 },
      desc: { type: 'boolean', default: false },
    },
    oneOf: [{ required: ['by'] }, { required: ['score'] }],
    additionalProperties: false,
  },
  reads: (params) => [sortColumn(params)],
  run(params, input, ctx) {
    const by = input.frame.column(sortColumn(params));
    const rows = input.rows;
    const ids = input.frame.column(ctx.itemType);
    // Followed by a Limit: only the first rows are ordered (the same rows, in the same order).
    const pos = input.upTo !== undefined && input.upTo < rows.length ? firstBy(rows, by, params.desc === true, ids, input.upTo) : orderBy(rows, by, params.desc === true, ids);
    const out = new Int32Array(pos.length);
    for (let k = 0; k < pos.length; k++) out[k] = rows[pos[k]!]!;
    return { rows: out };
  },
});
