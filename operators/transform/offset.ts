/**
 * Drops the first `n` rows in the current order and keeps the rest: with `Limit`
 * after it, one page of a ranking: items 11-20 are `Offset` 10 after the `Sort`, then `Limit` 10
 * (`n: $offset` takes it from the request). A Sort before it is told it needs only the first
 * offset + n rows (passesUpTo), as before a Limit alone.
 *
 * ```yaml
 * - name: Offset
 *   parameters: {n: 10}
 * ```
 */
import { defineOperator } from '../../engine/api.js';
import { countParam } from '../util.js';

export interface OffsetParams {
  readonly n: number;
}

export const offset = defineOperator<OffsetParams>({
  kind: 'transform',
  name: 'Offset',
  pure: true,
  summary: 'Drops the first n rows in the current order (paging: Offset, then Limit).',
  parameters: {
    type: 'object',
    properties: { n: { type: 'integer', minimum: 0 } },
    required: ['n'],
    additionalProperties: false,
  },
  passesUpTo(params, upTo) {
    try {
      return upTo + countParam(params.n, 'n'); // rows n .. n + upTo - 1 of its input are the ones used
    } catch {
      return undefined; // run() reports it
    }
  },
  run(params, input) {
    return { rows: input.rows.slice(countParam(params.n, 'n')) };
  },
});
