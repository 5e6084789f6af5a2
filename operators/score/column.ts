/**
 * Uses a numeric column as the score (null becomes NaN; numeric strings are parsed). A column of
 * text that is not numeric is a load error (BAD_PARAMETER).
 *
 * ```yaml
 * - name: Column
 *   parameters: {column: f0}
 * ```
 */
import { defineOperator } from '../../engine/api.js';
import { numberReader } from '../util.js';

export interface ColumnParams {
  readonly column: string;
}

export const column = defineOperator<ColumnParams>({
  kind: 'score',
  name: 'Column',
  summary: "Scores each row with the value of one of its numeric columns.",
  parameters: {
    type: 'object',
    properties: { column: { type: 'string', minLength: 1 } },
    required: ['column'],
    additionalProperties: false,
  },
  reads: (params) => [params.column],
  // A text column scores every row null: a load error naming the column, not a silent null ranking.
  compares: (params) => [{ path: '/column', column: params.column, as: 'number' }],
  run(params, input) {
    const read = numberReader(input.frame.column(params.column));
    const rows = input.rows;
    const out = new Float64Array(rows.length);
    for (let k = 0; k < rows.length; k++) out[k] = read(rows[k]!);
    return out;
  },
});
