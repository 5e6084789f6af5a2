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
 *
 * A classifier's export (skl2onnx with zipmap=False: `label` [N], then `probabilities` [N, 2]) is
 * scored by the column `output` names (checked when the config loads):
 *
 * ```yaml
 * - name: ModelScore
 *   parameters:
 *     model: models/clf.onnx
 *     output: probabilities[1]
 *     features: [f0, f1, f2]
 * ```
 *
 * `model` may instead name a registry model (the engine needs --registry): `{tags: {name: psale,
 * stage: prod}}` (the newest match, followed as new versions are published), `{name, alias}` or
 * `{name, version}`. Its input columns come from the envelope; `features` then maps input names to
 * item columns or references, and inputs it leaves out read the item column of the same name:
 *
 * ```yaml
 * - name: ModelScore
 *   parameters:
 *     model: {tags: {name: psale, stage: prod}}
 *     features: {c0: $client.c0, c1: $client.c1}
 * ```
 */
import { existsSync } from 'node:fs';
import { defineOperator, describeOutputs, exampleSelector, firstWide, isNumeric, MODEL_SPEC_SCHEMA, operatorError, parseSelector, selectionProblem } from '../../engine/api.js';
import type { CheckEnv, ModelOutputInfo, ModelRef, ModelRunner, ModelSpec, ParamProblem, RowSet } from '../../engine/api.js';
import { isRef, numberReader, toNumber } from '../util.js';

type Feature = string | number | boolean | null;

export interface ModelScoreParams {
  readonly model: string | ModelSpec;
  /**
   * At request time references are already numbers (or numeric strings); other strings name frame
   * columns. For a registry model, an object keyed by input name is accepted too.
   */
  readonly features?: readonly Feature[] | Readonly<Record<string, Feature>>;
  readonly batch_size: number;
  /** Model files: the output (and column of a wide one) to score by, e.g. `probabilities[1]`; default the first output. */
  readonly output?: string;
  /** Set at config load for a registry model (never written in a config). */
  readonly resolved?: {
    readonly binding: string; readonly model: string; readonly flavor: string; readonly inputs: readonly string[];
    /** Inputs the function takes as text or booleans ("dept (string)"): ModelScore can hand a model only numbers. */
    readonly textInputs?: readonly string[];
    /** The first output ("label (string)") when it is text or booleans: ModelScore scores by it, and a score is a number. */
    readonly textScore?: string;
  };
  /**
   * Set at config load for a model file (never written in a config): a copy of the bytes the load
   * checked, named by their sha256. Requests load it, so a model file overwritten later (a reload
   * that is then rejected) does not change what the accepted version serves.
   */
  readonly pinned?: string;
}

/** The features in the model's input order. */
export function orderedFeatures(params: ModelScoreParams): readonly Feature[] {
  const f = params.features;
  if (!params.resolved) return Array.isArray(f) ? f : [];
  if (Array.isArray(f)) return f;
  const map = (f ?? {}) as Readonly<Record<string, Feature>>;
  return params.resolved.inputs.map((name) => (Object.hasOwn(map, name) ? map[name]! : name));
}

function modelName(params: ModelScoreParams): string {
  return params.resolved ? params.resolved.model : String(params.model);
}

function registryProblems(params: ModelScoreParams, env: CheckEnv): ParamProblem[] {
  const r = params.resolved!;
  const problems: ParamProblem[] = [];
  if (r.flavor !== 'onnx' && r.flavor !== 'js') problems.push({ path: '/model', message: `${r.model} is a ${r.flavor} function; ModelScore scores with onnx and js models`, code: 'MODEL_LOAD_FAILED' });
  // Features travel as one float matrix: a text column would reach predict() as NaN, scoring silently wrong.
  if (r.textInputs?.length) problems.push({ path: '/model', message: `${r.model} takes ${r.textInputs.join(', ')}; ModelScore hands a model numbers only, so it cannot score with it (serve it from a deployment, or publish a version that takes numbers, e.g. category codes)`, code: 'BAD_PARAMETER' });
  // A text score becomes NaN for every row: the step would answer null scores, and sorts on them, without an error.
  if (r.textScore) problems.push({ path: '/model', message: `${r.model} answers ${r.textScore} as its first output, which ModelScore scores by; a score must be a number, so it cannot score with it (publish a version whose first output is numeric, e.g. return { score, label } rather than { label, score }; serve text outputs from a deployment)`, code: 'BAD_PARAMETER' });
  const f = params.features;
  if (Array.isArray(f)) {
    if (f.length !== r.inputs.length) problems.push({ path: '/features', message: `${r.model} takes ${r.inputs.length} input columns (${r.inputs.join(', ')}); features lists ${f.length}` });
    return problems;
  }
  for (const k of Object.keys(f ?? {})) if (!r.inputs.includes(k)) problems.push({ path: `/features/${k}`, message: `${r.model} has no input column '${k}' (it takes ${r.inputs.join(', ')})` });
  const cols = env.itemsDataset ? env.datasetColumns(env.itemsDataset) : undefined;
  const missing = r.inputs.filter((name) => !Object.hasOwn(f ?? {}, name) && cols !== undefined && !cols.includes(name));
  if (missing.length) {
    problems.push({ path: '/features', message: `${r.model} needs input column(s) ${missing.join(', ')}, which the items dataset '${env.itemsDataset}' does not have; map them in features (e.g. {${missing[0]}: $context.column})`, code: 'UNKNOWN_COLUMN' });
  }
  return problems;
}

export const modelScore = defineOperator<ModelScoreParams>({
  kind: 'score',
  name: 'ModelScore',
  fixed: { model: 'a model (a file, or a registry model)', output: "one of the model's outputs" },
  summary: 'Scores rows with a model (an ONNX file, or a registry model followed by tags: ONNX or a js function) fed item columns and broadcast context values.',
  parameters: {
    type: 'object',
    properties: {
      model: { oneOf: [{ type: 'string', minLength: 1 }, MODEL_SPEC_SCHEMA] },
      features: {
        oneOf: [
          { type: 'array', minItems: 1, items: { type: ['string', 'number'] } },
          { type: 'object', additionalProperties: { type: ['string', 'number'] } },
        ],
      },
      batch_size: { type: 'integer', minimum: 1, default: 4096 },
      output: { type: 'string', minLength: 1 },
    },
    required: ['model'],
    // A model file needs the feature list; a registry model knows its inputs.
    if: { properties: { model: { type: 'string' } } },
    then: { required: ['features'], properties: { features: { type: 'array' } } },
    additionalProperties: false,
  },
  reads: (params) => orderedFeatures(params).filter((f): f is string => typeof f === 'string' && !f.startsWith('$')),
  // Item columns and context values are fed as numbers: a text or timestamp one would reach the model as NaN or epoch ms.
  compares: (params) => orderedFeatures(params).flatMap((f, i) => {
    if (typeof f !== 'string' || f.startsWith('$$')) return [];
    const list = Array.isArray(params.features);
    // A reference (`$client.c0`) sits in the list, or under its input's name in a registry model's mapping.
    if (f.startsWith('$')) return [{ path: list ? `/features/${i}` : `/features/${params.resolved?.inputs[i] ?? ''}`, column: f, as: 'number' as const }];
    return [{ path: list ? `/features/${i}` : params.features ? '/features' : '/model', column: f, as: 'number' as const }];
  }),
  normalize(params, env) {
    const spec = params.model;
    if (typeof spec === 'string') {
      if (isRef(spec)) return params;
      const path = env.resolvePath(spec);
      // A file that does not load is reported by verify, against the path as written.
      if (!env.modelFile) return { ...params, model: path };
      return env.modelFile(path).then((info) => ({ ...params, model: path, ...(info.pinned ? { pinned: info.pinned } : {}) }), () => ({ ...params, model: path }));
    }
    // Only a registry model needs the (async) resolution; file models stay synchronous.
    const models = env.models;
    if (!models) throw operatorError('BAD_PARAMETER', 'model names a registry model but the engine has no registry: start it with --registry URL|DIR or AIRMAIL_REGISTRY');
    return models.resolve(spec).then((r) => {
      const textInputs = r.inputs.filter((c) => c.type === 'string' || c.type === 'bool').map((c) => `${c.name} (${c.type})`);
      const score = r.outputs[0];
      const textScore = score && (score.type === 'string' || score.type === 'bool') ? `'${score.name}' (${score.type})` : undefined;
      return { ...params, resolved: { binding: r.binding, model: `${r.name}@${r.version}`, flavor: r.flavor, inputs: r.inputs.map((c) => c.name), ...(textInputs.length ? { textInputs } : {}), ...(textScore ? { textScore } : {}) } };
    });
  },
  check(params, env) {
    const problems: ParamProblem[] = [];
    if (params.output !== undefined) {
      if (params.resolved) problems.push({ path: '/output', message: `output is for model files; ${params.resolved.model} scores by its first output column, chosen when it is published (airmail publish ... --outputs psale=probabilities[1])`, code: 'BAD_PARAMETER' });
      else if (!parseSelector(params.output)) problems.push({ path: '/output', message: `output ${JSON.stringify(params.output)} is not a model output or a column of one: write e.g. probabilities or probabilities[1]`, code: 'BAD_PARAMETER' });
    }
    if (params.resolved) return [...problems, ...registryProblems(params, env)];
    if (!Array.isArray(params.features)) problems.push({ path: '/features', message: 'features must list the model inputs in order (an object of input names is for registry models)', code: 'BAD_PARAMETER' });
    if (typeof params.model !== 'string' || (!isRef(params.model) && !existsSync(params.model))) {
      if (typeof params.model === 'string') env.watchMissing?.(params.model);
      problems.push({ path: '/model', message: `model file ${String(params.model)} does not exist`, code: 'BAD_PARAMETER' });
    }
    return problems;
  },
  async verify(params, env) {
    // A file model is loaded once when the config loads: one that does not load, or takes
    // another number of features than the step gives, is a config error, not a failing request.
    if (params.resolved || typeof params.model !== 'string' || isRef(params.model) || !env.modelFile) return [];
    let info: { featureCount: number; outputs?: readonly ModelOutputInfo[] };
    try {
      info = await env.modelFile(params.pinned ?? params.model);
    } catch (err) {
      return [{ path: '/model', message: (err as Error).message, code: 'MODEL_LOAD_FAILED' }];
    }
    const outputProblem = info.outputs && outputProblemOf(params, info.outputs);
    if (outputProblem) return [outputProblem];
    const given = orderedFeatures(params).length;
    if (info.featureCount > 0 && info.featureCount !== given) {
      return [{ path: '/features', message: `model ${params.model} takes ${info.featureCount} features; the step gives ${given}`, code: 'BAD_PARAMETER' }];
    }
    return [];
  },
  async run(params, input, ctx) {
    const frame = input.frame;
    const features = orderedFeatures(params);
    const width = features.length;
    const ref: ModelRef = params.resolved ? { path: '', version: '', binding: params.resolved.binding } : { path: params.pinned ?? String(params.model), version: '', ...(params.pinned ? { file: String(params.model) } : {}), ...fileSelection(params) };
    const model = await ctx.model(ref);
    if (model.featureCount > 0 && model.featureCount !== width) {
      throw operatorError('MODEL_FAILED', `model ${modelName(params)} takes ${model.featureCount} features; the step gives ${width}`);
    }
    const rows = input.rows;
    const fast = await scoreAsItems(model, features, input);
    if (fast) return fast;
    // Each feature: a numeric column read at some rows (item columns straight from the items
    // dataset, without gathering them into the frame), a per-row reader, or a constant.
    const items = frame.items?.();
    // Dataset rows of the live rows, when every one has one (checked once, not per feature).
    let itemRows: Int32Array | null | undefined;
    const datasetRows = (): Int32Array | null => {
      if (itemRows !== undefined) return itemRows;
      const r = items!.rowsOf(rows);
      for (let k = 0; k < r.length; k++) if (r[k]! < 0) return (itemRows = null);
      return (itemRows = r);
    };
    const sources = features.map((f, i): { col: ArrayLike<number>; at: Int32Array } | { read: (row: number) => number } | { value: number } => {
      if (typeof f === 'string' && frame.has(f)) {
        if (items?.isDatasetColumn(f)) {
          const c = items.dataset.column(f);
          const at = isNumeric(c) ? datasetRows() : null;
          if (at) return { col: c as ArrayLike<number>, at };
        }
        const c = frame.column(f);
        return isNumeric(c) ? { col: c, at: rows } : { read: numberReader(c) };
      }
      const v = toNumber(f);
      if (!Number.isNaN(v) || f === null) return { value: v };
      if (typeof f === 'string') frame.column(f); // raises UNKNOWN_COLUMN
      throw operatorError('BAD_PARAMETER', `feature ${i} is ${JSON.stringify(f)}, not a column name or a number`);
    });
    const out = new Float64Array(rows.length);
    const batch = Math.max(1, Math.floor(params.batch_size || 4096));
    const buf = new Float32Array(Math.min(batch, rows.length) * width);
    for (let start = 0; start < rows.length; start += batch) {
      if (ctx.signal.aborted) throw operatorError('DEADLINE_EXCEEDED', `aborted while scoring: ${String(ctx.signal.reason ?? 'deadline')}`);
      const end = Math.min(rows.length, start + batch);
      const m = end - start;
      const x = m * width === buf.length ? buf : new Float32Array(m * width);
      for (let j = 0; j < width; j++) {
        const src = sources[j]!;
        if ('col' in src) {
          const { col, at: idx } = src;
          for (let k = 0, at = j; k < m; k++, at += width) x[at] = col[idx[start + k]!]!;
        } else if ('read' in src) {
          for (let k = 0, at = j; k < m; k++, at += width) x[at] = src.read(rows[start + k]!);
        } else {
          for (let k = 0, at = j; k < m; k++, at += width) x[at] = src.value;
        }
      }
      const y = await model.predict(x, m);
      if (y.length !== m) throw operatorError('MODEL_FAILED', `model ${modelName(params)} returned ${y.length} scores for ${m} rows`);
      for (let k = 0; k < m; k++) out[start + k] = y[k]!;
    }
    return out;
  },
});

/** The output a model file is scored by (ModelRef.output/column), when `output` names one. */
function fileSelection(params: ModelScoreParams): { output?: string; column?: number } {
  const sel = params.output === undefined ? undefined : parseSelector(params.output);
  return sel ? { output: sel.output, ...(sel.column !== undefined ? { column: sel.column } : {}) } : {};
}

/**
 * A model file's outputs against `output`: an unknown output or a column out of range, a wide
 * output without a column, or (no `output`) a classifier whose first output is its label while
 * the probabilities follow: scoring by the label would rank by 0/1 silently.
 */
function outputProblemOf(params: ModelScoreParams, outputs: readonly ModelOutputInfo[]): ParamProblem | undefined {
  const how = (x: string): string => `output: ${x}`;
  const sel = params.output === undefined ? undefined : parseSelector(params.output);
  if (sel) {
    const p = selectionProblem(outputs, sel, how);
    return p ? { path: '/output', message: `model ${String(params.model)}: ${p}`, code: 'BAD_PARAMETER' } : undefined;
  }
  if (params.output !== undefined || outputs.length === 0) return undefined;
  const first = outputs[0]!;
  const firstProblem = selectionProblem(outputs, { output: first.name }, how);
  if (firstProblem) return { path: '/model', message: `model ${String(params.model)} is scored by its first output, and ${firstProblem}`, code: 'BAD_PARAMETER' };
  const wide = firstWide(outputs);
  if (wide) {
    return { path: '/model', message: `model ${String(params.model)} answers ${describeOutputs(outputs)}: ModelScore scores by the first, '${first.name}', which for a classifier is the predicted class, not a probability; choose the column to score by with ${how(exampleSelector(outputs))} (or ${how(first.name)} to keep the first)`, code: 'BAD_PARAMETER' };
  }
  return undefined;
}

/**
 * When every feature is an unchanged column of the items dataset or one value
 * for the whole request, runners that can use that (tree ensembles) score the
 * dataset rows directly; undefined otherwise.
 */
async function scoreAsItems(model: ModelRunner, features: readonly Feature[], input: RowSet): Promise<Float64Array | undefined> {
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
  const shared = items.sharedRows?.();
  const y = await model.scoreItems({ dataset: items.dataset, columns, constants, rows, ...(shared ? { base: { rows: shared, at: input.rows } } : {}) });
  return y ? Float64Array.from(y) : undefined;
}
