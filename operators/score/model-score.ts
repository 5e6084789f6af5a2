/**
 * Scores rows with an ONNX model. `features` lists the model's inputs in
 * order: item columns by name, or `$context.column` / `$input` references
 * whose (numeric) value is broadcast to every row.
 *
 * ```yaml
 * - name: ModelScore
 *   parameters:
 *     model: models/psale.onnx
 *     features: [f0, f1, f2, $client.c0, $client.c1]
 *     batch_size: 4096
 * ```
 */
import { existsSync } from 'node:fs';
import { defineOperator, isNumeric, operatorError } from '../../engine/api.js';
import type { ModelRunner, RowSet } from '../../engine/api.js';
import { isRef, numberReader, toNumber } from '../util.js';

export interface ModelScoreParams {
  readonly model: string;
  /** At request time references are already numbers (or numeric strings); other strings name frame columns. */
  readonly features: readonly (string | number | boolean | null)[];
  readonly batch_size: number;
}

export const modelScore = defineOperator<ModelScoreParams>({
  kind: 'score',
  name: 'ModelScore',
  summary: 'Scores rows with an ONNX model fed item columns and broadcast context values.',
  parameters: {
    type: 'object',
    properties: {
      model: { type: 'string', minLength: 1 },
      features: { type: 'array', minItems: 1, items: { type: ['string', 'number'] } },
      batch_size: { type: 'integer', minimum: 1, default: 4096 },
    },
    required: ['model', 'features'],
    additionalProperties: false,
  },
  reads: (params) => params.features.filter((f): f is string => typeof f === 'string' && !f.startsWith('$')),
  normalize(params, env) {
    return isRef(params.model) ? params : { ...params, model: env.resolvePath(params.model) };
  },
  check(params) {
    if (isRef(params.model) || existsSync(params.model)) return [];
    return [{ path: '/model', message: `model file ${params.model} does not exist`, code: 'BAD_PARAMETER' }];
  },
  async run(params, input, ctx) {
    const frame = input.frame;
    // Each feature is a per-row reader: a frame column, or a constant from a substituted reference.
    const readers = params.features.map((f, i): ((row: number) => number) => {
      if (typeof f === 'string' && frame.has(f)) return numberReader(frame.column(f));
      const v = toNumber(f);
      if (!Number.isNaN(v) || f === null) return () => v;
      if (typeof f === 'string') return numberReader(frame.column(f)); // raises UNKNOWN_COLUMN
      throw operatorError('BAD_PARAMETER', `feature ${i} is ${JSON.stringify(f)}, not a column name or a number`);
    });
    const width = readers.length;
    const model = await ctx.model({ path: params.model, version: '' });
    if (model.featureCount > 0 && model.featureCount !== width) {
      throw operatorError('MODEL_FAILED', `model ${params.model} takes ${model.featureCount} features; the step gives ${width}`);
    }
    const rows = input.rows;
    const fast = await scoreAsItems(model, params.features, input);
    if (fast) return fast;
    const out = new Float64Array(rows.length);
    const batch = Math.max(1, Math.floor(params.batch_size || 4096));
    const buf = new Float32Array(Math.min(batch, rows.length) * width);
    for (let start = 0; start < rows.length; start += batch) {
      if (ctx.signal.aborted) throw operatorError('DEADLINE_EXCEEDED', `aborted while scoring: ${String(ctx.signal.reason ?? 'deadline')}`);
      const end = Math.min(rows.length, start + batch);
      const m = end - start;
      const x = m * width === buf.length ? buf : new Float32Array(m * width);
      for (let j = 0; j < width; j++) {
        const f = params.features[j];
        const col = typeof f === 'string' && frame.has(f) ? frame.column(f) : undefined;
        if (col && isNumeric(col)) {
          // Plain typed-array columns (the common case) skip the per-row closure.
          for (let k = 0, at = j; k < m; k++, at += width) x[at] = col[rows[start + k]!]!;
        } else {
          const read = readers[j]!;
          for (let k = 0, at = j; k < m; k++, at += width) x[at] = read(rows[start + k]!);
        }
      }
      const y = await model.predict(x, m);
      if (y.length !== m) throw operatorError('MODEL_FAILED', `model ${params.model} returned ${y.length} scores for ${m} rows`);
      for (let k = 0; k < m; k++) out[start + k] = y[k]!;
    }
    return out;
  },
});

/**
 * When every feature is an unchanged column of the items dataset or one value
 * for the whole request, runners that can use that (tree ensembles) score the
 * dataset rows directly; undefined otherwise.
 */
async function scoreAsItems(model: ModelRunner, features: ModelScoreParams['features'], input: RowSet): Promise<Float64Array | undefined> {
  const items = input.frame.items?.();
  if (!model.scoreItems || !items) return undefined;
  const columns: (string | null)[] = [];
  const constants = new Float64Array(features.length);
  for (let j = 0; j < features.length; j++) {
    const f = features[j];
    if (typeof f === 'string' && input.frame.has(f)) {
      if (!items.isDatasetColumn(f)) return undefined;
      columns.push(f);
    } else {
      const v = toNumber(f);
      if (Number.isNaN(v) && f !== null) return undefined;
      columns.push(null);
      constants[j] = v;
    }
  }
  const rows = items.rowsOf(input.rows);
  for (let k = 0; k < rows.length; k++) if (rows[k]! < 0) return undefined;
  const y = await model.scoreItems({ dataset: items.dataset, columns, constants, rows });
  return y ? Float64Array.from(y) : undefined;
}
