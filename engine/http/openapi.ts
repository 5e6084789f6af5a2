/**
 * OpenAPI 3.1 generated from what is loaded: one path per named pipeline,
 * with the input schema derived from its $references.
 */
import type { Engine } from '../engine.js';
import { modelPaths } from './models.js';
import { operatorPaths } from './operators.js';

/** The answer of a run, once under components (with hundreds of pipelines, inline in each path it was most of the document). */
const RESULT = {
  type: 'object',
  required: ['items', 'error', 'reason', 'pipeline', 'version'],
  properties: {
    items: { type: 'array', items: { type: 'object' } },
    error: { type: 'boolean' },
    reason: { type: ['string', 'null'], description: 'Why the result is empty, or what failed.' },
    pipeline: { type: ['string', 'null'], description: 'null in an error that concerns no loaded pipeline' },
    version: { type: ['string', 'null'], description: 'Content hash of the compiled config.' },
    took_ms: { type: 'number', description: 'Always in a result; in an error once the request reached the app.' },
    code: { type: 'string', description: 'Error code from the error catalogue (errors only).' },
    operator: { type: 'string', description: 'The step that failed (errors only).' },
    operator_code: { type: 'string', description: "The code of an operator's own error, beside OPERATOR_FAILED (errors only)." },
    errors: { type: 'array', items: { type: 'object' }, description: 'Each problem with a JSON pointer (422 only).' },
    models: { type: 'object', additionalProperties: { type: 'string' }, description: 'Scorer output → the registry model version that scored it (e.g. psale@3), for registry models.' },
  },
} as const;
const RESPONSE = { $ref: '#/components/schemas/Result' } as const;

export function openApi(engine: Engine): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  const errors = {
    '400': { description: 'Unparsable body' },
    '404': { description: 'Unknown pipeline' },
    '413': { description: 'Body too large' },
    '415': { description: 'Content-Type neither JSON nor YAML' },
    '422': { description: 'Inputs do not match the schema (errors carry JSON pointers)' },
    '503': { description: 'Overloaded; see Retry-After' },
    '504': { description: 'Deadline exceeded' },
  };
  for (const [name, p] of [...engine.snapshot.pipelines].sort(([a], [b]) => a.localeCompare(b))) {
    const props = (p.inputSchema['properties'] ?? {}) as Record<string, Record<string, unknown>>;
    const required = (p.inputSchema['required'] ?? []) as string[];
    const query = Object.entries(props).map(([k, s]) => ({ name: k, in: 'query', required: required.includes(k), schema: s }));
    paths[`/pipelines/${name}`] = {
      post: {
        operationId: `run_${name}`,
        summary: p.description ?? `Run pipeline ${name}`,
        description: `version ${p.version}`,
        requestBody: { required: true, content: { 'application/json': { schema: p.inputSchema }, 'application/yaml': { schema: p.inputSchema } } },
        responses: { '200': { description: 'Items (possibly empty, with a reason)', content: { 'application/json': { schema: RESPONSE } } }, ...errors },
      },
      get: {
        operationId: `get_${name}`,
        summary: `Run ${name} with query parameters (no query: describe the pipeline)`,
        parameters: query,
        responses: { '200': { description: 'Items', content: { 'application/json': { schema: RESPONSE } } }, ...errors },
      },
      delete: {
        operationId: `delete_${name}`,
        summary: `Admin: remove ${name} and its file (bearer token)`,
        security: [{ bearer: [] }],
        responses: { '204': { description: 'removed' }, '401': { description: 'no token' }, '404': { description: 'Unknown pipeline' }, '422': { description: 'the configs left would be invalid' } },
      },
    };
    paths[`/pipelines/${name}/run`] = {
      get: {
        operationId: `run_query_${name}`,
        summary: `Run ${name} with query parameters (also without any)`,
        parameters: query,
        responses: { '200': { description: 'Items', content: { 'application/json': { schema: RESPONSE } } }, ...errors },
      },
    };
  }
  paths['/execute'] = {
    post: {
      summary: 'Run a pipeline sent in the body (JSON or YAML) with its inputs',
      requestBody: {
        content: {
          'application/json': { schema: { type: 'object', required: ['pipeline'], properties: { pipeline: { type: 'object' }, inputs: { type: 'object' }, operators: { type: 'object' } } } },
          'application/yaml': { schema: { type: 'string' } },
        },
      },
      responses: { '200': { description: 'Items', content: { 'application/json': { schema: RESPONSE } } }, ...errors },
    },
  };
  paths['/pipelines'] = {
    get: { summary: 'List pipelines with versions, load times and rejections', responses: { '200': { description: 'ok' } } },
    post: { summary: 'Admin: add or replace a pipeline (bearer token)', security: [{ bearer: [] }], responses: { '200': { description: 'replaced' }, '201': { description: 'created' }, '401': { description: 'no token' }, '409': { description: "the pipeline's file also holds other entries: nothing written (CONFIG_CONFLICT)" }, '422': { description: 'invalid config' } } },
  };
  const named = [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }];
  paths['/pipelines/{name}/explain'] = { get: { summary: 'The compiled plan', parameters: named, responses: { '200': { description: 'plan' }, '404': { description: 'Unknown pipeline' } } } };
  paths['/pipelines/{name}/why'] = {
    post: {
      summary: 'Why an item is or is not in the answer: which include produced it, which exclude or filter removed it, its score and rank',
      parameters: named,
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['item'], properties: { inputs: { type: 'object' }, item: { type: ['string', 'number'] } } } } } },
      responses: { '200': { description: 'the verdict' }, ...errors },
    },
  };
  paths['/validate'] = { post: { summary: 'Dry run: check a config without applying it', responses: { '200': { description: 'valid' }, '422': { description: 'errors' } } } };
  Object.assign(paths, operatorPaths());
  Object.assign(paths, modelPaths(engine));
  paths['/health'] = { get: { summary: 'Liveness', responses: { '200': { description: 'alive' } } } };
  paths['/ready'] = { get: { summary: 'Readiness', responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } } } };
  paths['/metrics'] = { get: { summary: 'Prometheus text format', responses: { '200': { description: 'metrics', content: { 'text/plain': { schema: { type: 'string' } } } } } } };
  paths['/ui'] = { get: { summary: 'A page: pipelines, reloads, live rates and latency, a run form and "why not this item?" (/ redirects here)', responses: { '200': { description: 'HTML' } } } };
  paths['/ui/stats'] = { get: { summary: 'The JSON the /ui page reads', responses: { '200': { description: 'stats' } } } };
  paths['/openapi.json'] = { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } } };
  paths['/docs'] = { get: { summary: 'This document as a page', responses: { '200': { description: 'HTML' } } } };
  return {
    openapi: '3.1.0',
    info: { title: 'Airmail', version: '0.1.0', description: 'Recommendation pipelines served from YAML configs.' },
    paths,
    components: { schemas: { Result: RESULT }, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
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
