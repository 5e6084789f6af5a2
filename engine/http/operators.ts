/**
 * GET /operators and GET /operators/{name}: the operator catalogue (engine/operator-catalogue.ts) of
 * what is loaded now. Public and read-only, like GET /pipelines.
 */
import type { Hono } from 'hono';
import type { Engine } from '../engine.js';
import { catalogueEntry, operatorCatalogue } from '../operator-catalogue.js';
import { errors, ok } from './openapi-parts.js';

export function mountOperatorRoutes(app: Hono, engine: Engine): void {
  app.get('/operators', (c) => c.json(operatorCatalogue(engine.snapshot, engine.store.dir)));
  // Unknown: thrown, so the app's error handler answers 404 OPERATOR_NOT_FOUND in the error shape.
  app.get('/operators/:name', (c) => c.json(catalogueEntry(operatorCatalogue(engine.snapshot, engine.store.dir), c.req.param('name'))));
}

const PARAMETER = {
  type: 'object',
  required: ['name', 'type', 'required'],
  properties: { name: { type: 'string' }, type: { type: 'string' }, required: { type: 'boolean' }, default: {}, enum: { type: 'array' }, description: { type: 'string' } },
} as const;
const OPERATOR = {
  type: 'object',
  required: ['name', 'kind', 'summary', 'source', 'parameters', 'presets'],
  properties: {
    name: { type: 'string' },
    kind: { enum: ['source', 'filter', 'score', 'transform'] },
    summary: { type: 'string' },
    source: { type: 'string', description: "'built-in', or the file that defines it, relative to the configs directory" },
    parameters: { type: 'array', items: PARAMETER },
    additional_parameters: { type: 'boolean', description: 'false: a parameter not listed is refused at load' },
    presets: { type: 'array', items: { type: 'string' }, description: 'the presets that use it' },
  },
} as const;
const PRESET = {
  type: 'object',
  required: ['name', 'use', 'parameters'],
  properties: { name: { type: 'string' }, use: { type: 'string' }, parameters: { type: 'object' }, description: { type: 'string' }, file: { type: 'string' } },
} as const;

/** Their entries in /openapi.json. */
export function operatorPaths(): Record<string, unknown> {
  return {
    '/operators': {
      get: {
        summary: 'Every installed operator (built-in and from operator_paths) with its kind, summary and parameters, and the presets of the loaded configs',
        operationId: 'list_operators',
        responses: { '200': ok('the catalogue', { type: 'object', properties: { operators: { type: 'array', items: OPERATOR }, presets: { type: 'array', items: PRESET } } }) },
      },
    },
    '/operators/{name}': {
      get: {
        operationId: 'get_operator',
        summary: 'One operator, or one preset with the operator it uses',
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': ok('{operator} or {preset, operator}', { type: 'object', properties: { operator: OPERATOR, preset: PRESET } }),
          ...errors(404),
        },
      },
    },
  };
}
