/**
 * OpenAPI 3.1 generated from what is loaded: one path per named pipeline,
 * with the input schema derived from its $references.
 */
import type { Engine } from '../engine.js';
import { modelPaths } from './models.js';
import { operatorPaths } from './operators.js';
import { DEFAULT_MAX_BATCH } from '../batch.js';
import { batchBody, batchComponents, batchOperation } from './openapi-batch.js';
import { components, DELETE_RESPONSES, DESCRIPTION_REF, errors, GET_RESPONSES, ok, RUN_OPTIONS, RUN_RESPONSES } from './openapi-parts.js';

const object = { type: 'object' } as const;
/** What admin POST /pipelines and POST /validate take (JSON, or YAML of the same shape). */
const PUT_BODY = { type: 'object', required: ['pipeline'], properties: { pipeline: object, operators: object } } as const;
const EXECUTE_BODY = { type: 'object', required: ['pipeline'], properties: { pipeline: object, inputs: object, operators: object } } as const;
const WHY_BODY = { type: 'object', required: ['item'], properties: { inputs: object, item: { type: ['string', 'number'] } } } as const;
/** A step /why names: `index` is its 0-based place in its list of the config, as in the debug trace (two `Match`es: 0 and 1). */
const WHY_STEP = {
  type: 'object',
  required: ['step', 'index', 'operator', 'parameters'],
  properties: { step: { type: 'string' }, index: { type: 'integer', minimum: 0 }, operator: { type: 'string' }, parameters: { type: 'string' } },
} as const;
const WHY_ANSWER = {
  type: 'object',
  required: ['item', 'verdict', 'reason', 'includedBy', 'notIncludedBy', 'excludedBy'],
  properties: {
    item: { type: ['string', 'number'] },
    verdict: { enum: ['kept', 'not_included', 'unknown_item', 'excluded', 'filtered', 'cut', 'empty', 'error'] },
    reason: { type: 'string' },
    includedBy: { type: 'array', items: WHY_STEP },
    notIncludedBy: { type: 'array', items: { allOf: [WHY_STEP, { type: 'object', required: ['returned'], properties: { returned: { type: 'integer' } } }] } },
    excludedBy: { type: 'array', items: WHY_STEP },
    removedBy: {
      description: 'The step that removed the item (filtered or cut): `phase` and `index` name it (operations[index]), as the debug trace does',
      allOf: [WHY_STEP, { type: 'object', required: ['phase', 'rowsIn', 'rowsOut', 'values'], properties: { phase: { enum: ['include', 'exclude', 'score', 'operation'] }, rowsIn: { type: 'integer' }, rowsOut: { type: 'integer' }, values: object } }],
    },
    score: { type: ['number', 'null'] },
    rank: { type: 'integer' },
    of: { type: 'integer' },
    rankedBy: { type: 'string' },
  },
} as const;
const WHY = {
  type: 'object',
  required: ['pipeline', 'version', 'item', 'why', 'items', 'error'],
  properties: { pipeline: { type: 'string' }, version: { type: 'string' }, item: { type: ['string', 'number'] }, why: WHY_ANSWER, items: { type: 'array' }, reason: { type: ['string', 'null'] }, error: { type: 'boolean' }, code: { type: 'string' } },
} as const;
const VALID = { type: 'object', required: ['valid', 'errors'], properties: { valid: { type: 'boolean' }, errors: { type: 'array' } } } as const;
const LIST = { type: 'object', required: ['pipelines'], properties: { pipelines: { type: 'array', items: DESCRIPTION_REF }, experiments: { type: 'array', items: DESCRIPTION_REF }, rejections: { type: 'array' }, reloads: { type: 'array' } } } as const;
const READY = { type: 'object', required: ['ready'], properties: { ready: { type: 'boolean' }, pipelines: { type: 'integer' }, workers: { type: 'integer' } } } as const;
/** A body in JSON or YAML, the same shape. */
const body = (schema: unknown): Record<string, unknown> => ({ required: true, content: { 'application/json': { schema }, 'application/yaml': { schema }, 'text/yaml': { schema } } });

type Schema = Record<string, unknown>;
const SAFE = Number.MAX_SAFE_INTEGER;
const typesOf = (s: Schema): string[] => (Array.isArray(s['type']) ? (s['type'] as string[]) : typeof s['type'] === 'string' ? [s['type']] : []);
/** An integer past ±2^53-1 is refused (a double would round it to another id): say so, or a generated client sends it. */
function safeIntegers(s: Schema): Schema {
  let out = s;
  if (typesOf(s).includes('integer')) out = { ...out, minimum: Math.max(-SAFE, (s['minimum'] as number | undefined) ?? -SAFE), maximum: Math.min(SAFE, (s['maximum'] as number | undefined) ?? SAFE) };
  const items = s['items'];
  if (items && typeof items === 'object' && !Array.isArray(items)) out = { ...out, items: safeIntegers(items as Schema) };
  return out;
}
/**
 * An input as the document states it: its schema with the integer range the server takes, and in a
 * body also `null` for an input with a default (a body's null is that input left out: the default).
 */
function documented(s: Schema, body: boolean): Schema {
  const out = safeIntegers(s);
  const types = typesOf(out);
  return body && 'default' in out && types.length > 0 && !types.includes('null') ? { ...out, type: [...types, 'null'] } : out;
}
/** The input schema of a body, each input as documented(). */
function bodySchema(input: Schema): Schema {
  const props = (input['properties'] ?? {}) as Record<string, Schema>;
  return { ...input, properties: Object.fromEntries(Object.entries(props).map(([k, s]) => [k, documented(s, true)])) };
}

/** ?arm= and x-airmail-arm: force an arm of an experiment (QA; counted as assignment="forced"). */
function armOptions(arms: readonly string[]): Schema[] {
  const description = 'Force this arm (QA): counted as assignment="forced", apart from the assigned split; any other value is a 400';
  return [
    { name: 'arm', in: 'query', required: false, description, schema: { enum: arms } },
    { name: 'x-airmail-arm', in: 'header', required: false, description, schema: { enum: arms } },
  ];
}

export function openApi(engine: Engine, maxBatch = DEFAULT_MAX_BATCH): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  // Each pipeline's body schema once (a generated client's type for its inputs), referred to by each body type.
  const inputs: Record<string, unknown> = {};
  // Experiments are served like pipelines (engine/experiments.ts), with the options that force an arm.
  const experiments = engine.snapshot.experiments ?? new Map<string, never>();
  for (const [name, p] of [...engine.snapshot.pipelines, ...experiments].sort(([a], [b]) => a.localeCompare(b))) {
    const x = experiments.get(name);
    const options = x ? [...RUN_OPTIONS, ...armOptions(x.arms.map((a) => a.pipeline))] : RUN_OPTIONS;
    const props = (p.inputSchema['properties'] ?? {}) as Record<string, Record<string, unknown>>;
    if (/^[A-Za-z0-9._-]+$/.test(name)) inputs[`inputs.${name}`] = bodySchema(p.inputSchema);
    const required = (p.inputSchema['required'] ?? []) as string[];
    const query = Object.entries(props).map(([k, s]) => ({ name: k, in: 'query', required: required.includes(k), schema: documented(s, false) }));
    paths[`/pipelines/${name}`] = {
      post: {
        operationId: `run_${name}`,
        summary: p.description ?? (x ? `Run experiment ${name}: the arm its ${x.unit} picks` : `Run pipeline ${name}`),
        description: x ? `experiment version ${p.version}; arms ${x.arms.map((a) => `${a.pipeline} (${a.share})`).join(', ')}` : `version ${p.version}`,
        parameters: options,
        requestBody: body(/^[A-Za-z0-9._-]+$/.test(name) ? { $ref: `#/components/schemas/inputs.${name}` } : bodySchema(p.inputSchema)),
        responses: RUN_RESPONSES,
      },
      get: {
        operationId: `get_${name}`,
        summary: `Run ${name} with query parameters (no query string at all: describe the pipeline)`,
        parameters: [...query, ...options],
        responses: GET_RESPONSES,
      },
      delete: {
        operationId: `delete_${name}`,
        summary: x ? `Admin: refused (409): an experiment is ended by removing it from its file` : `Admin: remove ${name} and its file (bearer token)`,
        security: [{ bearer: [] }],
        responses: DELETE_RESPONSES,
      },
    };
    // The batch body is a component too (its three media types refer to it).
    const safe = /^[A-Za-z0-9._-]+$/.test(name);
    if (safe) inputs[`batch.${name}`] = batchBody({ $ref: `#/components/schemas/inputs.${name}` }, maxBatch);
    const batchSchema = safe ? { $ref: `#/components/schemas/batch.${name}` } : batchBody(bodySchema(p.inputSchema), maxBatch);
    paths[`/pipelines/${name}/batch`] = batchOperation(name, p.version, batchSchema, maxBatch, x ? armOptions(x.arms.map((a) => a.pipeline)) : undefined);
    paths[`/pipelines/${name}/run`] = {
      get: {
        operationId: `run_query_${name}`,
        summary: `Run ${name} with query parameters (also without any)`,
        parameters: [...query, ...options],
        responses: RUN_RESPONSES,
      },
    };
  }
  paths['/execute'] = {
    post: {
      operationId: 'execute',
      summary: 'Run a pipeline sent in the body (JSON or YAML) with its inputs',
      parameters: RUN_OPTIONS,
      requestBody: body(EXECUTE_BODY),
      responses: RUN_RESPONSES,
    },
  };
  paths['/pipelines'] = {
    get: { operationId: 'list_pipelines', summary: 'List pipelines with versions, load times and rejections', responses: { '200': ok('every pipeline, rejections and recent reloads', LIST) } },
    post: {
      operationId: 'put_pipeline',
      summary: 'Admin: add or replace a pipeline (bearer token)',
      security: [{ bearer: [] }],
      requestBody: body(PUT_BODY),
      responses: { '200': ok('replaced', DESCRIPTION_REF), '201': ok('created', DESCRIPTION_REF), ...errors(400, 401, 409, 413, 415, 422) },
    },
  };
  const named = [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }];
  paths['/pipelines/{name}/explain'] = { get: { operationId: 'explain', summary: 'The compiled plan (relative time bounds also resolved at the request\'s now)', parameters: [...named, RUN_OPTIONS[4]], responses: { '200': ok('plan', object), ...errors(400, 404) } } };
  paths['/pipelines/{name}/why'] = {
    post: {
      operationId: 'why',
      summary: 'Why an item is or is not in the answer: which include produced it, which exclude or filter removed it, its score and rank',
      parameters: [...named, RUN_OPTIONS[2]],
      requestBody: body(WHY_BODY),
      responses: { ...RUN_RESPONSES, '200': ok('the verdict', WHY) },
    },
  };
  paths['/validate'] = {
    post: {
      operationId: 'validate',
      summary: 'Dry run of admin POST /pipelines: the same checks, nothing applied (a refusal has valid: false)',
      requestBody: body(PUT_BODY),
      responses: { '200': ok('valid', VALID), ...errors(400, 409, 413, 415, 422, 503) },
    },
  };
  Object.assign(paths, operatorPaths());
  Object.assign(paths, modelPaths(engine));
  paths['/health'] = { get: { operationId: 'health', summary: 'Liveness', responses: { '200': ok('alive', { type: 'object', properties: { status: { const: 'ok' } } }) } } };
  paths['/ready'] = { get: { operationId: 'ready', summary: 'Readiness', responses: { '200': ok('ready', READY), '503': { ...ok('not ready', READY) } } } };
  paths['/metrics'] = { get: { operationId: 'metrics', summary: 'Prometheus text format', responses: { '200': ok('metrics', { type: 'string' }, 'text/plain') } } };
  paths['/ui'] = { get: { operationId: 'ui', summary: 'A page: pipelines, reloads, live rates and latency, a run form and "why not this item?" (/ redirects here)', responses: { '200': ok('HTML', { type: 'string' }, 'text/html') } } };
  paths['/ui/stats'] = { get: { operationId: 'ui_stats', summary: 'The JSON the /ui page reads', responses: { '200': ok('stats', object) } } };
  paths['/openapi.json'] = { get: { operationId: 'openapi', summary: 'This document', responses: { '200': ok('OpenAPI 3.1', object) } } };
  paths['/docs'] = { get: { operationId: 'docs', summary: 'This document as a page', responses: { '200': ok('HTML', { type: 'string' }, 'text/html') } } };
  return {
    openapi: '3.1.0',
    info: { title: 'Airmail', version: '0.1.0', description: 'Recommendation pipelines served from YAML configs.' },
    paths,
    components: ((c, b) => Object.assign(c, { schemas: { ...(c['schemas'] as object), ...b.schemas, ...inputs }, responses: { ...(c['responses'] as object), ...b.responses } }))(components(), batchComponents()),
  };
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** A self-contained docs page (no CDN: the engine runs without internet). */
export function docsPage(engine: Engine): string {
  const spec = openApi(engine);
  const rows = Object.entries(spec['paths'] as Record<string, Record<string, { summary?: string; requestBody?: unknown }>>)
    .flatMap(([path, ops]) => Object.entries(ops).map(([m, op]) => `<tr><td><code>${m.toUpperCase()}</code></td><td><code>${esc(path)}</code></td><td>${esc(op.summary ?? '')}</td></tr>`))
    .join('\n');
  const schemas = [...engine.snapshot.pipelines.values()]
    .map((p) => `<h3>${esc(p.name)} <small>${esc(p.version)}</small></h3><pre>${esc(JSON.stringify(p.inputSchema, null, 2))}</pre>`)
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Airmail API</title>
<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em}table{border-collapse:collapse}td{border-bottom:1px solid #ddd;padding:4px 8px}pre{background:#f6f6f6;padding:8px}</style>
</head><body><h1>Airmail API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a></p>
<table>${rows}</table><h2>Pipeline inputs</h2>${schemas}</body></html>`;
}
