/**
 * Keeps the first row (in the current order) of each distinct value of one
 * column or combination of columns, or the first `keep` rows ("at most 2 per
 * brand"); nulls count as one value.
 *
 * ```yaml
 * - name: Dedupe
 *   parameters: {by: brand, keep: 2}
 * ```
 */
import { defineOperator } from '../../engine/api.js';
import { rowKey } from '../util.js';

export interface DedupeParams {
  readonly by: string | readonly string[];
  /** Rows kept per distinct value (default 1). */
  readonly keep?: number;
}

function byList(params: DedupeParams): readonly string[] {
  return typeof params.by === 'string' ? [params.by] : params.by;
}

export const dedupe = defineOperator<DedupeParams>({
  kind: 'transform',
  name: 'Dedupe',
  pure: true,
  summary: 'Keeps the first row (or the first `keep` rows) of each distinct value of the given columns.',
  parameters: {
    type: 'object',
    properties: {
      by: {
        oneOf: [
          { type: 'string', minLength: 1 },
          { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
        ],
      },
      keep: { type: 'integer', minimum: 1, default: 1 },
    },
    required: ['by'],
    additionalProperties: false,
  },
  reads: (params) => byList(params),
  run(params, input) {
    const key = rowKey(byList(params).map((c) => input.frame.column(c)));
    const keep = params.keep ?? 1;
    const seen = new Map<unknown, number>();
    const rows = input.rows;
    const out = new Int32Array(rows.length);
    let n = 0;
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      const v = key(r);
      const had = seen.get(v) ?? 0;
      if (had >= keep) continue;
      seen.set(v, had + 1);
      out[n++] = r;
    }
    return { rows: out.slice(0, n) };
  },
});
