/**
 * Keeps the first `n` rows in the current order.
 *
 * ```yaml
 * - name: Limit
 *   parameters: {n: 20}
 * ```
 */
import { defineOperator } from '../../engine/api.js';
import { countParam } from '../util.js';

export interface LimitParams {
  readonly n: number;
}

export const limit = defineOperator<LimitParams>({
  kind: 'transform',
  name: 'Limit',
  pure: true,
  summary: 'Keeps the first n rows in the current order.',
  parameters: {
    type: 'object',
    properties: { n: { type: 'integer', minimum: 0 } },
    required: ['n'],
    additionalProperties: false,
  },
  keepsFirst(params) {
    try {
      return countParam(params.n, 'n');
    } catch {
      return undefined; // run() reports it
    }
  },
  run(params, input) {
    return { rows: input.rows.slice(0, countParam(params.n, 'n')) };
  },
});
