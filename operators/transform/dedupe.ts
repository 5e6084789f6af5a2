/**
 * Keeps the first row (in the current order) of each distinct value of one
 * column or combination of columns; nulls count as one value.
 *
 * ```yaml
 * - name: Dedupe
 *   parameters: {by: product_id}
 * ```
 */
import { defineOperator } from '../../engine/api.js';
import { rowKey } from '../util.js';

export interface DedupeParams {
  readonly by: string | readonly string[];
}

function byList(params: DedupeParams): readonly string[] {
  return typeof params.by === 'string' ? [params.by] : params.by;
}

export const dedupe = defineOperator<DedupeParams>({
  kind: 'transform',
  name: 'Dedupe',
  pure: true,
  summary: 'Keeps the first row of each distinct value of the given columns.',
  parameters: {
    type: 'object',
    properties: {
      by: {
        oneOf: [
          { type: 'string', minLength: 1 },
          { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
        ],
      },
    },
    required: ['by'],
    additionalProperties: false,
  },
  reads: (params) => byList(params),
  run(params, input) {
    const key = rowKey(byList(params).map((c) => input.frame.column(c)));
    const seen = new Set<unknown>();
    const rows = input.rows;
    const out = new Int32Array(rows.length);
    let n = 0;
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      const v = key(r);
      if (seen.has(v)) continue;
      seen.add(v);
      out[n++] = r;
    }
    return { rows: out.slice(0, n) };
  },
});
