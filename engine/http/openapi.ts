/**
 * OpenAPI 3.1 generated from what is loaded: one path per named pipeline,
 * with the input schema derived from its $references.
 */
import type { Engine } from '../engine.js';
import { modelPaths } from './models.js';

const RESPONSE = {
  type: 'object',
  required: ['items', 'error', 'reason', 'pipeline', 'version', 'took_ms'],
  properties: {
    items: { type: 'array', items: { type: 'object' } },
    error: { type: 'boolean' },
    reason: { type: ['string', 'null'], description: 'Why the result is empty, or what failed.' },
    pipeline: { type: 'string' },
    version: { type: 'string', description: 'Content hash of the compiled config.' },
    took_ms: { type: 'number' },
    code: { type: 'string', description: 'Error code from the error catalogue (errors only).' },
    operator: { type: 'string', description: 'The step that failed (errors only).' },
    models: { type: 'object', additionalProperties: { type: 'string' }, description: 'Scorer output → the registry model version that scored it (e.g. psale@3), for registry models.' },
  },
} as const;

export function openApi(engine: Engine): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  const errors = {
    '400': { description: 'Unparsable body' },
    '404': { description: 'Unknown pipeline' },
    '413': { description: 'Body too large' },
    '422': { description: 'Inputs do not match the schema (errors carry JSON pointers)' },
    '503': { description: 'Overloaded; see Retry-After' },
    '504': { description: 'Deadline exceeded' },
  };
  for (const [name, p] of [...engine.snapshot.pipelines].sort(([a], [b]) => a.localeCompare(b))) {
    const props = (p.inputSchema['properties'] ?? {}) as Record<string, Record<string, unknown>>;
    const required = (p.inputSchema['required'] ?? []) as string[];
    paths[`/pipelines/${name}`] = {
      post: {
        operationId: `run_${name}`,
        summary: p.description ?? `Run pipeline ${name}`,
        description: `version ${p.version}`,
        requestBody: { required: true, content: { 'application/json': { schema: p.inputSchema } } },
        responses: { '200': { description: 'Items (possibly empty, with a reason)', content: { 'application/json': { schema: RESPONSE } } }, ...errors },
      },
      get: {
        operationId: `get_${name}`,
        summary: `Run ${name} with query parameters (no query: describe the pipeline)`,
        parameters: Object.entries(props).map(([k, s]) => ({ name: k, in: 'query', required: required.includes(k), schema: s })),
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
  paths['/pipelines/{name}/explain'] = { get: { summary: 'The compiled plan', parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'plan' } } } };
  paths['/validate'] = { post: { summary: 'Dry run: check a config without applying it', responses: { '200': { description: 'valid' }, '422': { description: 'errors' } } } };
  Object.assign(paths, modelPaths(engine));
  paths['/health'] = { get: { summary: 'Liveness', responses: { '200': { description: 'alive' } } } };
  paths['/ready'] = { get: { summary: 'Readiness', responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } } } };
  return {
    openapi: '3.1.0',
    info: { title: 'Airmail', version: '0.1.0', description: 'Recommendation pipelines served from YAML configs.' },
    paths,
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
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
