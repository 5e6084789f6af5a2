/**
 * Model endpoints generated from the envelope's shape (`deployments:` in the configs):
 *
 *   GET  /models                       deployments, the version each serves, recent swaps and rejections
 *   GET  /models/{name}                one deployment: model, input and output schema
 *   POST /models/{name}/predict        {"rows": [{feature: value}]} → {"predictions": [{output: value}], "model": {...}}
 *   GET  /models/{name}/query/{id}     the features of `id` from the feature source, predicted
 *
 * A request takes the deployment's current model once, when it starts, so a swap never changes the
 * model under it. Rows are checked against a JSON Schema derived from the model's input columns: a
 * missing, unknown or mistyped feature is a 422 naming it; `null` is a missing value (NaN to a numeric
 * input, as /query and pipelines give a feature-source row without one).
 */
import type { ValidateFunction } from 'ajv';
import type { Hono } from 'hono';
import { valueAt, type ModelColumn, type Scalar } from '../api.js';
import { describeErrors, newAjv } from '../config/validators.js';
import type { Engine } from '../engine.js';
import { AirmailError, clip, PATH_CHARS, summarise } from '../errors.js';
import type { Envelope } from '../registry/envelope.js';
import type { ColumnValues } from '../registry/function.js';
import { featureSource, INT_RANGE, outputSchema, rowSchema, type LoadedDeployment } from '../registry/deployments.js';
import type { LoadedModel } from '../registry/model-hub.js';
import { publicPaths } from '../config/public-paths.js';
import { errors, ok, RUN_OPTIONS } from './openapi-parts.js';
import { deadlineOption } from './deadline.js';
import { isPlainObject, readBody } from './body.js';

const MAX_ROWS = 10_000;
/** The request's deadline: the server's (--deadline-ms), which its x-airmail-deadline-ms header may only shorten (a bad one is a 400 HEADER_INVALID, as on every route). */
function deadlineOf(engine: Engine, header: string | undefined): number {
  return engine.serverDeadline(deadlineOption(header).deadlineMs);
}
const ajv = newAjv({ useDefaults: false });
const validators = new WeakMap<Envelope, ValidateFunction>();

/** What /predict takes: the server checks it and /openapi.json states it, so a key it refuses is never documented as allowed. */
function bodySchema(inputs: readonly ModelColumn[]): Record<string, unknown> {
  return { type: 'object', required: ['rows'], additionalProperties: false, properties: { rows: { type: 'array', minItems: 1, maxItems: MAX_ROWS, items: rowSchema(inputs) } } };
}

function deployment(engine: Engine, name: string): LoadedDeployment {
  const d = engine.snapshot.deployments?.get(name);
  if (!d) throw new AirmailError('NOT_FOUND', `no deployment named '${clip(name, PATH_CHARS)}' (deployed: ${[...(engine.snapshot.deployments?.keys() ?? [])].join(', ') || 'none'})`);
  return d;
}

function serving(engine: Engine, d: LoadedDeployment): LoadedModel {
  const m = engine.models?.current(d.resolved.binding);
  if (!m) throw new AirmailError('NOT_READY', `deployment '${d.name}' has no model loaded`);
  return m;
}

export function modelInfo(m: LoadedModel): Record<string, unknown> {
  const e = m.envelope;
  return { name: e.name, version: e.version, label: m.label, flavor: e.function.flavor, sha256: e.function.artifact.sha256, published_at: e.publishedAt, tags: e.index };
}

/** A missing value (null: a feature-source row without one, or sent as null) is NaN to a numeric input, as in pipelines, never 0. */
async function predictRows(m: LoadedModel, rows: readonly Record<string, unknown>[], timeoutMs: number): Promise<Record<string, unknown>[]> {
  const fn = m.envelope.function;
  const columns: Record<string, ColumnValues> = {};
  for (const c of fn.inputs) {
    columns[c.name] = c.type === 'string' || c.type === 'bool' ? rows.map((r) => r[c.name] as Scalar) : Float64Array.from(rows, (r) => (r[c.name] === null || r[c.name] === undefined ? NaN : Number(r[c.name])));
  }
  const out = await m.fn.predict(columns, rows.length, { timeoutMs });
  // A js function's answer is checked on every call, not only on its sample: a short or absent
  // column would otherwise come back as nulls, read as missing values rather than a broken model.
  for (const o of fn.outputs) {
    const col = out[o.name] as ArrayLike<unknown> | undefined;
    const n = col && typeof col === 'object' && typeof col.length === 'number' ? col.length : undefined;
    if (n !== rows.length) throw new AirmailError('MODEL_FAILED', `${m.label} returned ${n === undefined ? 'no column' : `${n} value${n === 1 ? '' : 's'} of`} '${o.name}' for ${rows.length} row${rows.length === 1 ? '' : 's'}`);
  }
  return rows.map((_, i) => Object.fromEntries(fn.outputs.map((o) => {
    const v = out[o.name]?.[i];
    return [o.name, typeof v === 'number' && Number.isNaN(v) ? null : (v ?? null)];
  })));
}

/**
 * Hints for the refusals a caller cannot explain from the body alone: an absent feature (a
 * misspelt or forgotten key, more often than not: say how to send a missing value), and a decimal
 * or an out-of-range whole number for an integer input (its type was derived from whole numbers in
 * the publish sample).
 */
function withHints(inputs: readonly { readonly name: string; readonly type: string }[]): (e: { path: string; message: string }) => { path: string; message: string } {
  return (e) => {
    const name = /^\/rows\/\d+\/([^/]+)$/.exec(e.path)?.[1];
    if (name === undefined) return e;
    if (e.message.endsWith(' is required')) return { ...e, message: `${e.message} (send null for a missing value)` };
    const type = inputs.find((c) => c.name === name)?.type;
    if (type !== undefined && type.startsWith('int') && e.message.includes('must be an integer')) {
      return { ...e, message: `${e.message} (the model's input '${name}' is ${type}, as its envelope was published: from whole numbers in its sample, unless --inputs said so; publish with --inputs ${name}:float64 to take decimals)` };
    }
    const range = type === undefined ? undefined : INT_RANGE[type];
    if (range && / must be [<>]=/.test(e.message)) {
      return { ...e, message: `${e.message} (the model's input '${name}' is ${type}: whole numbers from ${range.minimum} to ${range.maximum}${type === 'int64' ? ', as far as a JSON number holds every digit' : ''}; publish with --inputs ${name}:float64 to take larger values)` };
    }
    return e;
  };
}

export function mountModelRoutes(app: Hono, engine: Engine): void {
  // The deployment's file as every public answer names it: relative to the configs directory.
  const paths = publicPaths(engine.store.dir);
  const describe = (d: LoadedDeployment): Record<string, unknown> => {
    const m = engine.models?.current(d.resolved.binding);
    return {
      name: d.name,
      description: d.description ?? null,
      spec: d.spec,
      model: m ? modelInfo(m) : null,
      inputs: m ? rowSchema(m.envelope.function.inputs) : null,
      outputs: m ? outputSchema(m.envelope.function.outputs) : null,
      features_from: (m ? featureSource(d, m.envelope) : d.featuresFrom ?? d.resolved.featureSource) ?? null,
      file: paths.file(d.file),
    };
  };

  app.get('/models', (c) => c.json({
    deployments: [...(engine.snapshot.deployments?.values() ?? [])].sort((a, b) => a.name.localeCompare(b.name)).map(describe),
    swaps: engine.models?.swaps.slice(-20) ?? [],
    rejections: engine.models?.rejections.slice(-20) ?? [],
  }));

  app.get('/models/:name', (c) => c.json(describe(deployment(engine, c.req.param('name')))));

  app.post('/models/:name/predict', async (c) => {
    const t0 = performance.now();
    const d = deployment(engine, c.req.param('name'));
    const m = serving(engine, d);
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json' && !type.endsWith('+json')) throw new AirmailError('UNSUPPORTED_MEDIA_TYPE', `send the rows as application/json (got ${type === '' ? 'no content-type' : type})`);
    const { value } = await readBody(c, 'json');
    let validate = validators.get(m.envelope);
    if (!validate) validators.set(m.envelope, (validate = ajv.compile(bodySchema(m.envelope.function.inputs))));
    if (!isPlainObject(value) || !validate(value)) {
      const errors = isPlainObject(value) ? describeErrors(validate.errors, 'json').map(withHints(m.envelope.function.inputs)) : [{ path: '', message: 'the body must be a JSON object {"rows": [...]}' }];
      throw new AirmailError('INPUT_INVALID', summarise(`rows for ${d.name} (${m.label}) are invalid`, errors.map((e) => `${e.path || '/'} ${e.message}`)), { details: { errors } });
    }
    const rows = (value as { rows: Record<string, unknown>[] }).rows;
    // JSON numbers beyond float64 (1e400) parse to ±Infinity, which no schema keyword refuses.
    const infinite = rows.flatMap((r, i) => Object.entries(r).filter(([, v]) => typeof v === 'number' && !Number.isFinite(v)).map(([k]) => ({ path: `/rows/${i}/${k}`, message: `'${k}' must be a finite number, not one beyond float64's range (about ±1.8e308)` })));
    if (infinite.length) throw new AirmailError('INPUT_INVALID', summarise(`rows for ${d.name} (${m.label}) are invalid`, infinite.map((e) => `${e.path} ${e.message}`)), { details: { errors: infinite } });
    const predictions = await predictRows(m, rows, deadlineOf(engine, c.req.header('x-airmail-deadline-ms')));
    return c.json({ predictions, model: modelInfo(m), took_ms: Math.round((performance.now() - t0) * 1000) / 1000 });
  });

  app.get('/models/:name/query/:id', async (c) => {
    const t0 = performance.now();
    const d = deployment(engine, c.req.param('name'));
    const m = serving(engine, d);
    const src = featureSource(d, m.envelope);
    if (!src) throw new AirmailError('NOT_FOUND', `deployment '${d.name}' has no feature source: ${m.label} was published without --feature-source dataset:key; publish it with one, or give the deployment features_from`);
    const ds = engine.snapshot.datasets.get(src.dataset);
    if (!ds) throw new AirmailError('UNKNOWN_DATASET', `deployment '${d.name}' reads features from dataset '${src.dataset}', which is not loaded`);
    const raw = c.req.param('id');
    const keyCol = ds.column(src.key);
    const id: Scalar = ArrayBuffer.isView(keyCol) && raw.trim() !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
    const row = ds.findRow(src.key, id);
    if (row < 0) throw new AirmailError('NOT_FOUND', `dataset '${src.dataset}' has no row with ${src.key}=${JSON.stringify(id)}`);
    const features: Record<string, unknown> = {};
    for (const col of m.envelope.function.inputs) {
      if (!ds.has(col.name)) throw new AirmailError('UNKNOWN_COLUMN', `${m.label} needs feature '${col.name}', which dataset '${src.dataset}' does not have`);
      features[col.name] = valueAt(ds.column(col.name), row);
    }
    const predictions = await predictRows(m, [features], deadlineOf(engine, c.req.header('x-airmail-deadline-ms')));
    return c.json({ id, features, predictions, model: modelInfo(m), took_ms: Math.round((performance.now() - t0) * 1000) / 1000 });
  });
}

/** /openapi.json paths for every deployment, with schemas from the model's shape. */
export function modelPaths(engine: Engine): Record<string, unknown> {
  const paths: Record<string, unknown> = {
    '/models': { get: { operationId: 'list_models', summary: 'Deployed registry models: the version each serves, recent swaps and rejected versions', responses: { '200': ok('deployments, swaps and rejections', { type: 'object', required: ['deployments'], properties: { deployments: { type: 'array', items: { type: 'object' } }, swaps: { type: 'array' }, rejections: { type: 'array' } } }) } } },
    '/models/{name}': { get: { operationId: 'get_model', summary: 'One deployment: its model and the input and output schemas', parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': ok('the deployment', { type: 'object' }), ...errors(404) } } },
  };
  // 404: unknown deployment, or no row with that id; 422: a feature absent, unknown or of the wrong type (errors name it; null is a missing value); 503: no model loaded yet.
  const failures = errors(400, 404, 413, 415, 422, 500, 503, 504);
  for (const d of [...(engine.snapshot.deployments?.values() ?? [])].sort((a, b) => a.name.localeCompare(b.name))) {
    const m = engine.models?.current(d.resolved.binding);
    const inputs = m?.envelope.function.inputs ?? d.resolved.inputs;
    const outputs = m?.envelope.function.outputs ?? d.resolved.outputs;
    const label = m?.label ?? `${d.resolved.name}@${d.resolved.version}`;
    const response = {
      type: 'object', required: ['predictions', 'model'],
      properties: { predictions: { type: 'array', items: outputSchema(outputs) }, model: { type: 'object', description: 'name, version, sha256, flavor, tags of the model that answered' }, took_ms: { type: 'number' } },
    };
    const queried = {
      ...response, required: ['id', 'features', ...response.required],
      properties: { id: { type: ['string', 'number'], description: 'the id asked for, a number when the key column is numeric' }, features: { ...rowSchema(inputs), description: 'the features read from the feature source (null: no value)' }, ...response.properties },
    };
    paths[`/models/${d.name}/predict`] = {
      post: {
        operationId: `predict_${d.name}`,
        summary: d.description ?? `Predict with ${d.name}`,
        description: `serves ${label} (follows ${JSON.stringify(d.spec)})`,
        requestBody: { required: true, content: { 'application/json': { schema: bodySchema(inputs) } } },
        parameters: [RUN_OPTIONS[3]],
        responses: { '200': ok('One prediction per row', response), ...failures },
      },
    };
    // Listed only where it can answer: without a feature source the route is a 404 (see the route above).
    const src = m ? featureSource(d, m.envelope) : d.featuresFrom ?? d.resolved.featureSource;
    if (!src) continue;
    paths[`/models/${d.name}/query/{id}`] = {
      get: {
        operationId: `query_${d.name}`,
        summary: `Predict for one id, its features read from ${src.dataset}`,
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, RUN_OPTIONS[3]],
        responses: { '200': ok('The features read and the prediction', queried), ...failures },
      },
    };
  }
  return paths;
}
