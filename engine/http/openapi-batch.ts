/**
 * The OpenAPI operation of POST /pipelines/{name}/batch (http/batch-route.ts): a body of
 * `{"requests": [inputs, ...]}` and an answer of one entry per element, each a run's answer (or
 * error answer) without the pipeline and version, which the batch names once (an experiment's
 * entries keep them, naming each element's arm, and its `experiment`).
 */
import { ERRORS } from '../errors.js';
import { errors, ok, RUN_OPTIONS } from './openapi-parts.js';

/** A run's answer (components/schemas/Result) less the pipeline and version (but for a fallback's answer), with its place and status. */
const ENTRY = {
  type: 'object',
  required: ['index', 'status', 'items', 'error', 'reason', 'took_ms'],
  properties: {
    index: { type: 'integer', minimum: 0, description: "The element's place in requests" },
    status: { type: 'integer', description: 'The HTTP status the same request sent alone would have had (200, 422, 500, 504, ...)' },
    items: { type: 'array', items: { type: 'object' } },
    error: { type: 'boolean' },
    reason: { type: ['string', 'null'] },
    took_ms: { type: 'number' },
    code: { enum: Object.keys(ERRORS).sort() },
    operator: { type: 'string' },
    operator_code: { type: 'string' },
    errors: { type: 'array', items: { type: 'object' } },
    errors_truncated: { type: 'integer' },
    models: { type: 'object', additionalProperties: { type: 'string' } },
    fallback: { $ref: '#/components/schemas/Result/properties/fallback' },
    pipeline: { type: 'string', description: "Only in an entry its pipeline's fallback answered: the fallback, which answered (else the batch's pipeline)" },
    version: { type: 'string', description: "Only in an entry its pipeline's fallback answered: the fallback's version" },
  },
} as const;

/** An experiment's entry: as ENTRY, with the arm that answered (`pipeline`, `version`) and `experiment`. */
const EXPERIMENT_ENTRY = {
  ...ENTRY,
  properties: {
    ...ENTRY.properties,
    pipeline: { type: ['string', 'null'], description: "The arm's pipeline that answered (the experiment's name when refused before an arm was picked)" },
    version: { type: ['string', 'null'] },
    experiment: { $ref: '#/components/schemas/Result/properties/experiment' },
  },
} as const;

const ANSWER = {
  type: 'object',
  required: ['results', 'failed', 'pipeline', 'version', 'took_ms'],
  properties: {
    results: { type: 'array', items: ENTRY, description: 'One entry per element of requests, in order' },
    failed: { type: 'integer', minimum: 0, description: 'Entries whose status is not 200' },
    pipeline: { type: 'string' },
    version: { type: 'string', description: 'The one version every element ran' },
    took_ms: { type: 'number' },
  },
} as const;

/** The answers of a batch, defined once under components (schemas and responses) and referred to by every batch operation. */
export function batchComponents(): { schemas: Record<string, unknown>; responses: Record<string, unknown> } {
  const description = "One entry per request, in order; a batch that runs is a 200 whatever its elements answered (see each entry's status)";
  return {
    schemas: {
      BatchResult: ANSWER,
      ExperimentBatchResult: { ...ANSWER, properties: { ...ANSWER.properties, results: { ...ANSWER.properties.results, items: EXPERIMENT_ENTRY } } },
    },
    responses: {
      Batch: ok(description, { $ref: '#/components/schemas/BatchResult' }),
      ExperimentBatch: ok(`${description}; each entry names its arm`, { $ref: '#/components/schemas/ExperimentBatchResult' }),
    },
  };
}

/** The body of a batch: `{"requests": [inputs, ...]}` of at most `maxBatch` elements, each of schema `inputs`. */
export function batchBody(inputs: unknown, maxBatch: number): Record<string, unknown> {
  return { type: 'object', required: ['requests'], additionalProperties: false, properties: { requests: { type: 'array', maxItems: maxBatch, items: inputs } } };
}

/**
 * `schema`: the body's schema (batchBody, or a reference to it); `arms`: the options forcing an arm,
 * for an experiment (whose entries then name their arm).
 */
export function batchOperation(name: string, version: string, schema: unknown, maxBatch: number, arms?: readonly unknown[]): Record<string, unknown> {
  return {
    post: {
      operationId: `batch_${name}`,
      summary: `Run ${name} for many requests at once (at most ${maxBatch})`,
      description: `version ${version}; refused as a whole: 413 (too many requests, or the body limit), 503 when the pool is shedding`,
      parameters: [RUN_OPTIONS[3], RUN_OPTIONS[4], ...(arms ?? [])],
      requestBody: { required: true, content: { 'application/json': { schema }, 'application/yaml': { schema }, 'text/yaml': { schema } } },
      responses: { '200': { $ref: `#/components/responses/${arms ? 'ExperimentBatch' : 'Batch'}` }, ...errors(400, 404, 413, 415, 422, 503) },
    },
  };
}
