/**
 * Draws `n` rows without replacement with probability softmax(score / temperature),
 * reproducibly: each row's random draw comes from a hash of the seed and its
 * item id (Gumbel top-k), so the same seed and candidates give the same
 * sample whatever their order. Output is in draw order. Rows with a missing
 * score are drawn last.
 *
 * ```yaml
 * - name: Sample
 *   parameters: {n: 20, score: score, temperature: 0.5, seed: $client_id}
 * ```
 */
import { defineOperator, operatorError, valueAt } from '../../engine/api.js';
import { countParam, hashString, mulberry32, numberReader, orderByValues, toNumber } from '../util.js';

export interface SampleParams {
  readonly n: number;
  readonly score: string;
  readonly temperature: number;
  readonly seed: number | string;
}

export const sample = defineOperator<SampleParams>({
  kind: 'transform',
  name: 'Sample',
  pure: true,
  summary: 'Draws n rows without replacement, weighted by softmax(score / temperature), from a seed.',
  parameters: {
    type: 'object',
    properties: {
      n: { type: 'integer', minimum: 0 },
      score: { type: 'string', minLength: 1 },
      temperature: { type: 'number', exclusiveMinimum: 0, default: 1 },
      seed: { type: ['number', 'string'], default: 0 },
    },
    required: ['n', 'score'],
    additionalProperties: false,
  },
  reads: (params) => [params.score],
  run(params, input, ctx) {
    const n = countParam(params.n, 'n');
    const t = toNumber(params.temperature ?? 1);
    if (!(t > 0)) throw operatorError('BAD_PARAMETER', `'temperature' must be a positive number, got ${JSON.stringify(params.temperature)}`);
    const seed = Math.imul(hashString(String(params.seed ?? 0)), 0x9e3779b1);
    const read = numberReader(input.frame.column(params.score));
    const ids = input.frame.column(ctx.itemType);
    const rows = input.rows;
    // Gumbel-max: the top n of score/T + Gumbel noise are a softmax sample without replacement.
    // Below T = 1 the same order comes from score + T * noise (the key times T): score/T would
    // overflow to Infinity for a tiny T (1e-320) or a large score, and every such row would tie.
    const small = t < 1;
    const keys = new Float64Array(rows.length);
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      const g = -Math.log(-Math.log(mulberry32(seed ^ hashString(String(valueAt(ids, r))))));
      keys[k] = small ? read(r) + t * g : read(r) / t + g;
    }
    const pos = orderByValues(rows, keys, true, ids);
    const take = Math.min(n, pos.length);
    const out = new Int32Array(take);
    for (let k = 0; k < take; k++) out[k] = rows[pos[k]!]!;
    return { rows: out };
  },
});
