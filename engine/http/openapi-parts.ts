/**
 * What every operation of /openapi.json shares, defined once under `components` and referred to:
 * the error answer (the response shape with a catalogue code), the error responses by status, the
 * headers every answer carries (x-request-id; Retry-After on a 503) and the request options a run
 * reads (?debug, x-airmail-debug, x-airmail-debug-ids, x-airmail-deadline-ms). A generated client
 * learns from them how to read an error, not only a success (test/openapi-contract.test.ts).
 */
import { ERRORS } from '../errors.js';

type Json = Record<string, unknown>;

const ref = (kind: string, name: string): Json => ({ $ref: `#/components/${kind}/${name}` });
export const json = (schema: unknown): Json => ({ content: { 'application/json': { schema } } });

export const RESULT_REF = ref('schemas', 'Result');
export const DESCRIPTION_REF = ref('schemas', 'PipelineDescription');

/** The header every answer carries. */
export const REQUEST_ID = { 'x-request-id': ref('headers', 'RequestId') } as const;

/** A documented 2xx answer: its JSON schema (or other media) and x-request-id. */
export function ok(description: string, schema?: unknown, media = 'application/json'): Json {
  return { description, headers: REQUEST_ID, ...(schema === undefined ? {} : { content: { [media]: { schema } } }) };
}

/** The error responses of an operation, by status (each one the error shape with its catalogue code). */
export function errors(...statuses: readonly ErrorStatus[]): Record<string, Json> {
  return Object.fromEntries(statuses.map((s) => [String(s), ref('responses', `E${s}`)]));
}

const ERROR_RESPONSES = {
  400: 'Unparsable body (BODY_UNPARSABLE), a bad ?debug or query escape (QUERY_INVALID), or a bad x-airmail-* header (HEADER_INVALID)',
  401: 'Admin route without the bearer token (UNAUTHORIZED)',
  404: 'Unknown pipeline, operator, deployment or route (PIPELINE_NOT_FOUND, OPERATOR_NOT_FOUND, NOT_FOUND)',
  409: "The pipeline's file also holds other entries, or the configs directory cannot be written: nothing written, nothing applied (CONFIG_CONFLICT, CONFIGS_NOT_WRITABLE)",
  413: 'Body too large (BODY_TOO_LARGE)',
  415: 'Content-Type neither JSON nor YAML, or a charset other than UTF-8 (UNSUPPORTED_MEDIA_TYPE)',
  422: 'Inputs or a config fail their checks; errors lists each with a JSON pointer (INPUT_INVALID, CONFIG_INVALID, ...)',
  500: 'An operator, a model or the engine failed (OPERATOR_FAILED, MODEL_FAILED, WORKER_FAILED, INTERNAL)',
  503: 'Overloaded or not ready; retry after Retry-After (OVERLOADED, NOT_READY)',
  504: 'The request ran past its deadline (DEADLINE_EXCEEDED)',
} as const;
export type ErrorStatus = keyof typeof ERROR_RESPONSES;

/** Every code of the catalogue (engine/errors.ts), which an error answer's `code` is one of. */
const CODES = Object.keys(ERRORS).sort();

/** A debug step's ids (the items dataset's key: a number or text). */
const IDS = { type: ['string', 'number'] } as const;
const STEPS = { type: 'array', items: { type: 'object', required: ['step', 'index', 'operator', 'phase', 'rowsIn', 'rowsOut'], properties: { step: { type: 'string' }, index: { type: 'integer', minimum: 0, description: "its 0-based place in its phase's list of the config (operations[index]), as /why names it" }, operator: { type: 'string' }, phase: { enum: ['include', 'exclude', 'score', 'operation'] }, rowsIn: { type: 'integer' }, rowsOut: { type: 'integer', description: "a source's: the ids it returned" }, ms: { type: 'number' },
  kept: { type: 'array', items: IDS, description: 'an include: the ids it returned; an exclude: the candidates it left (the union of the includes less its removed); an operation: the rows alive after it (cut after the debug id limit)' },
  keptTotal: { type: 'integer' },
  removed: { type: 'array', items: IDS, description: 'an exclude: the candidates it took out; an operation: the rows it removed' },
  removedTotal: { type: 'integer' },
  returned: { type: 'array', items: IDS, description: 'includes and excludes: the ids the source returned, candidates or not' },
  returnedTotal: { type: 'integer' } } } } as const;

export const RESULT = {
  type: 'object',
  required: ['items', 'error', 'reason', 'pipeline', 'version'],
  properties: {
    items: { type: 'array', items: { type: 'object' } },
    error: { type: 'boolean' },
    reason: { type: ['string', 'null'], description: 'Why the result is empty, or what failed.' },
    pipeline: { type: ['string', 'null'], description: 'null in an error that concerns no loaded pipeline' },
    version: { type: ['string', 'null'], description: 'Content hash of the compiled config.' },
    took_ms: { type: 'number', description: 'Always in a result; in an error once the request reached the app.' },
    code: { enum: CODES, description: 'Error code from the error catalogue (errors only; SOURCE_FAILED in a 200 with error: true).' },
    operator: { type: 'string', description: 'The step that failed (errors only).' },
    operator_code: { type: 'string', description: "The code of an operator's own error, beside OPERATOR_FAILED (errors only)." },
    errors: { type: 'array', items: { type: 'object' }, description: 'Each problem with a JSON pointer (at most 20; 422 and a YAML 400).' },
    errors_truncated: { type: 'integer', description: 'How many problems past the first 20 were left out.' },
    models: { type: 'object', additionalProperties: { type: 'string' }, description: 'Scorer output → the registry model version that scored it (e.g. psale@3), for registry models.' },
    experiment: {
      type: 'object', required: ['name', 'arm', 'assignment'], description: 'An A/B experiment answered (`pipeline` is the arm that ran); in an error answer too, once an arm was picked.',
      properties: { name: { type: 'string' }, arm: { type: 'string' }, assignment: { enum: ['assigned', 'forced', 'default'] }, bucket: { type: 'integer', minimum: 0, maximum: 9999, description: "the unit's bucket; absent without a unit" } },
    },
    fallback: {
      type: 'object', required: ['from', 'cause', 'reason'],
      description: "The pipeline's own run failed (error), ran past its deadline or answered fewer than min_items (empty), and its `fallback:` answered: `pipeline` names the fallback.",
      properties: { from: { type: 'string', description: 'The pipeline that was asked for.' }, cause: { enum: ['error', 'deadline', 'empty'] }, code: { enum: CODES, description: "The failed run's error code." }, operator: { type: 'string', description: 'The step that failed.' }, reason: { type: 'string', description: "The failed run's reason, naming the step." } },
    },
    debug: {
      type: 'object', description: 'Per-step counts, ids and ms (?debug=true or x-airmail-debug).',
      properties: { steps: STEPS, fallback_from: { type: 'object', required: ['pipeline', 'steps'], description: 'A fallback answered: the steps of the run it replaced, as far as it got.', properties: { pipeline: { type: 'string' }, steps: STEPS } } },
    },
  },
} as const;

const ERROR = {
  allOf: [ref('schemas', 'Result'), { type: 'object', required: ['code'], properties: { items: { maxItems: 0 }, error: { const: true }, code: { enum: CODES } } }],
} as const;

const DESCRIPTION = {
  type: 'object',
  required: ['name', 'version', 'inputs'],
  properties: {
    name: { type: 'string' },
    description: { type: ['string', 'null'] },
    version: { type: 'string' },
    loaded_at: { type: ['string', 'null'] },
    file: { type: ['string', 'null'], description: 'relative to the configs directory' },
    inputs: { type: 'object', description: "The pipeline's input schema (JSON Schema)" },
    fallback: { type: ['object', 'null'], description: 'Its `fallback:` (pipeline, when, min_items, reserve_ms), or null' },
    last_rejection: { type: ['object', 'null'] },
    kind: { const: 'experiment', description: 'An A/B experiment (absent for a pipeline)' },
    unit: { type: 'string' },
    salt: { type: 'string' },
    buckets: { type: 'integer' },
    arms: { type: 'array', items: { type: 'object', required: ['pipeline', 'weight', 'share', 'buckets'], properties: { pipeline: { type: 'string' }, weight: { type: 'number' }, share: { type: 'number' }, buckets: { type: 'array', items: { type: 'integer' } } } } },
    default: { type: ['string', 'null'] },
  },
} as const;

const RETRY = {
  'Retry-After': { required: true, description: 'Whole seconds, at least 1', schema: { type: 'integer', minimum: 1 } },
  'Retry-After-Ms': { required: true, description: 'The estimate in milliseconds', schema: { type: 'integer', minimum: 0 } },
} as const;

/** The `components` of the document. */
export function components(): Json {
  const responses = Object.fromEntries(Object.entries(ERROR_RESPONSES).map(([s, description]) => [
    `E${s}`,
    { description, headers: s === '503' ? { ...REQUEST_ID, 'Retry-After': ref('headers', 'RetryAfter'), 'Retry-After-Ms': ref('headers', 'RetryAfterMs') } : REQUEST_ID, ...json(ref('schemas', 'Error')) },
  ]));
  return {
    schemas: { Result: RESULT, Error: ERROR, PipelineDescription: DESCRIPTION },
    responses: {
      ...responses,
      Run: ok('Items (possibly empty, with a reason; error: true with SOURCE_FAILED when a source failed)', RESULT_REF),
      RunOrDescribe: ok('Items; or, without a query string at all, the pipeline described', { anyOf: [RESULT_REF, DESCRIPTION_REF] }),
      Removed: ok('removed'),
    },
    headers: {
      RequestId: { required: true, description: 'The request\'s own x-request-id when sane (up to 128 of [A-Za-z0-9-_.:@/+=]), else a new UUID', schema: { type: 'string' } },
      RetryAfter: RETRY['Retry-After'],
      RetryAfterMs: RETRY['Retry-After-Ms'],
    },
    parameters: {
      debug: { name: 'debug', in: 'query', required: false, allowEmptyValue: true, description: 'Per-step counts, ids and ms: true, 1, yes, on (any case) or bare; false, 0, no, off leave it off; anything else is a 400', schema: { type: 'string' } },
      debugHeader: { name: 'x-airmail-debug', in: 'header', required: false, description: 'As ?debug (without the bare form)', schema: { type: 'string' } },
      debugIds: { name: 'x-airmail-debug-ids', in: 'header', required: false, description: 'How many ids a debug step lists (0 to 999999999)', schema: { type: 'string', pattern: '^[0-9]{1,9}$' } },
      deadline: { name: 'x-airmail-deadline-ms', in: 'header', required: false, description: "Shortens the pipeline's deadline: a positive whole number of ms (queue time included)", schema: { type: 'string', pattern: '^[0-9]{1,10}$' } },
      now: { name: 'x-airmail-now', in: 'header', required: false, description: 'Pins the request\'s now (an ISO 8601 instant): time bounds such as now-30d resolve against it, to replay a past request', schema: { type: 'string' } },
    },
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
  };
}

/** The request options of a run (`?debug`, the debug and deadline headers). */
export const RUN_OPTIONS = [ref('parameters', 'debug'), ref('parameters', 'debugHeader'), ref('parameters', 'debugIds'), ref('parameters', 'deadline'), ref('parameters', 'now')] as const;
/** The answers of a run, of a GET that runs or describes, of a DELETE. */
export const RUN_RESPONSES = { '200': ref('responses', 'Run'), ...errors(400, 404, 413, 415, 422, 500, 503, 504) } as const;
export const GET_RESPONSES = { ...RUN_RESPONSES, '200': ref('responses', 'RunOrDescribe') } as const;
export const DELETE_RESPONSES = { '204': ref('responses', 'Removed'), ...errors(401, 404, 409, 422) } as const;
