/**
 * Keeps rows whose column matches a value (`==`, `!=`) or a list of values
 * (`in`, `not_in`). Rows whose column is null never match, so `!=` and
 * `not_in` keep them: those two are exactly the complement of `==` and `in`.
 *
 * ```yaml
 * - name: Match
 *   parameters: {column: department, value: $product.department}
 * ```
 */
import type { Scalar } from '../../engine/api.js';
import { defineOperator, equalsMask } from '../../engine/api.js';
import { asScalars } from '../util.js';

export interface MatchParams {
  readonly column: string;
  readonly op: '==' | '!=' | 'in' | 'not_in';
  readonly value: Scalar | readonly Scalar[];
}

const SCALAR = { type: ['string', 'number', 'boolean', 'null'] } as const;

export const match = defineOperator<MatchParams>({
  kind: 'filter',
  pure: true,
  name: 'Match',
  summary: 'Keeps rows whose column equals (or is among, or differs from) the given values.',
  parameters: {
    type: 'object',
    properties: {
      column: { type: 'string', minLength: 1 },
      op: { enum: ['==', '!=', 'in', 'not_in'], default: '==' },
      value: { type: ['string', 'number', 'boolean', 'null', 'array'], items: SCALAR },
    },
    required: ['column', 'value'],
    additionalProperties: false,
    // A list goes with in / not_in, a single value with == / !=.
    if: { properties: { op: { enum: ['in', 'not_in'] } }, required: ['op'] },
    then: { properties: { value: { type: 'array' } } },
    else: { properties: { value: SCALAR } },
  },
  reads: (params) => [params.column],
  compares: (params) => [{ path: '/value', column: params.column }],
  run(params, input) {
    // A reference may deliver a single value to in/not_in (or a list to ==): compare by membership either way.
    const mask = equalsMask(input.frame.column(params.column), asScalars(params.value));
    const keep = params.op === '!=' || params.op === 'not_in' ? false : true;
    const rows = input.rows;
    const out = new Int32Array(rows.length);
    let n = 0;
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      if (mask(r) === keep) out[n++] = r;
    }
    return out.slice(0, n);
  },
});
