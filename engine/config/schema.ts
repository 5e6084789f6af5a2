/**
 * The config language: one JSON Schema for a config file, checked with ajv
 * (all errors at once) before any name is resolved; a pipeline's own schema
 * is checked when it compiles (structure.ts).
 */
import type { JsonSchema } from '../api.js';
import type { RemoteDatasetConfig } from '../remote/datasets.js';
import { REDIS_READ_PROPERTIES } from '../remote/redis-read.js';
import { DEPLOYMENTS_SCHEMA, type DeploymentConfig } from '../registry/deployments.js';
import { EXPERIMENTS_SCHEMA, type ExperimentConfig } from './experiment-schema.js';

export interface StepConfig {
  name: string;
  parameters?: Record<string, unknown>;
  /** Output column of a scorer (default: snake_case of the step name). */
  as?: string;
  /** Weight of a scorer in `score` (default 1). */
  weight?: number;
}

export interface ContextConfig {
  dataset: string;
  key: unknown;
  /** Dataset column matched against `key` (default: the dataset's key). */
  column?: string;
}

export interface InputConfig {
  /** `timestamp` (or `date`): an instant, as ISO 8601 text or epoch milliseconds (config/typing.ts). */
  type?: 'integer' | 'number' | 'string' | 'boolean' | 'timestamp' | 'date';
  description?: string;
  default?: unknown;
  enum?: unknown[];
}

export interface PipelineConfig {
  name: string;
  description?: string;
  item_type: string;
  items?: string;
  context?: Record<string, ContextConfig>;
  inputs?: Record<string, InputConfig>;
  initialization?: {
    includes?: (StepConfig | string)[];
    excludes?: (StepConfig | string)[];
    scorer?: (StepConfig | string)[];
    scores?: (StepConfig | string)[];
  };
  operations?: (StepConfig | string)[];
  return?: string[];
  deadline_ms?: number;
  max_workers?: number;
  /** Another pipeline that answers when this one fails (engine/fallback.ts). */
  fallback?: string | FallbackConfig;
}

export interface FallbackConfig {
  pipeline: string;
  when?: ('error' | 'deadline' | 'empty')[];
  min_items?: number;
  reserve_ms?: number;
}

export interface DatasetConfig {
  /** A file (Arrow IPC, JSON or CSV), relative to the config; or one of `redis:` / `http:` (engine/remote/datasets.ts). */
  path?: string;
  format?: 'arrow' | 'json' | 'csv';
  key?: string;
  redis?: RemoteDatasetConfig['redis'];
  http?: RemoteDatasetConfig['http'];
  /** Remote datasets: how long a read is reused (reloads within it cost nothing). */
  ttl_ms?: number;
  /** Columns (and their types) the data may lack: an empty JSON file has none (dataset.ts withColumns). */
  /** `date` is `timestamp` (one type of instants), normalised at load. */
  columns?: Record<string, 'integer' | 'number' | 'string' | 'timestamp'>;
}

export interface PresetConfig {
  use: string;
  parameters?: Record<string, unknown>;
  description?: string;
}

export interface ConfigFile {
  datasets?: Record<string, DatasetConfig>;
  contexts?: Record<string, ContextConfig>;
  operators?: Record<string, PresetConfig>;
  operator_paths?: string[];
  pipeline?: PipelineConfig;
  pipelines?: PipelineConfig[];
  deployments?: DeploymentConfig[];
  experiments?: ExperimentConfig[];
}

const NAME = '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$';

const context: JsonSchema = {
  type: 'object',
  required: ['dataset', 'key'],
  additionalProperties: false,
  properties: { dataset: { type: 'string' }, key: {}, column: { type: 'string' } },
};

const step: JsonSchema = {
  oneOf: [
    { type: 'string', pattern: NAME },
    {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', pattern: NAME },
        parameters: { type: 'object' },
        as: { type: 'string', pattern: NAME },
        weight: { type: 'number' },
      },
    },
  ],
};

/**
 * The most steps one list of a pipeline may hold (includes, excludes, scores, operations). Real
 * pipelines hold a handful; a pipeline sent to the public `/execute` is compiled on the main thread,
 * and 25,000 steps (a 950 KB body) held it for 0.7–2.8 s.
 */
export const MAX_STEPS = 256;

const steps: JsonSchema = { type: 'array', maxItems: MAX_STEPS, items: step };

export const PIPELINE_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['name', 'item_type'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: NAME },
    description: { type: 'string' },
    item_type: { type: 'string', pattern: NAME },
    items: { type: 'string', pattern: NAME },
    context: { type: 'object', propertyNames: { pattern: NAME }, additionalProperties: context },
    inputs: {
      type: 'object',
      propertyNames: { pattern: NAME },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          type: { enum: ['integer', 'number', 'string', 'boolean', 'timestamp', 'date'] },
          description: { type: 'string' },
          default: {},
          enum: { type: 'array' },
        },
      },
    },
    initialization: {
      type: 'object',
      additionalProperties: false,
      properties: { includes: steps, excludes: steps, scorer: steps, scores: steps },
    },
    operations: steps,
    return: { type: 'array', items: { type: 'string' }, minItems: 1 },
    deadline_ms: { type: 'integer', minimum: 1, maximum: 600000 },
    max_workers: { type: 'integer', minimum: 1, maximum: 1024 },
    fallback: {
      oneOf: [
        { type: 'string', pattern: NAME },
        {
          type: 'object',
          required: ['pipeline'],
          additionalProperties: false,
          properties: {
            pipeline: { type: 'string', pattern: NAME },
            when: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['error', 'deadline', 'empty'] } },
            min_items: { type: 'integer', minimum: 1, maximum: 100000 },
            reserve_ms: { type: 'integer', minimum: 0, maximum: 600000 },
          },
        },
      ],
    },
  },
};

const PIPELINE_NAMED: JsonSchema = { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: NAME } } };

export const CONFIG_FILE_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    datasets: {
      type: 'object',
      propertyNames: { pattern: NAME },
      additionalProperties: {
        type: 'object',
        oneOf: [{ required: ['path'] }, { required: ['redis'] }, { required: ['http'] }],
        additionalProperties: false,
        properties: {
          path: { type: 'string', minLength: 1 },
          format: { enum: ['arrow', 'json', 'csv'] },
          key: { type: 'string' },
          ttl_ms: { type: 'integer', minimum: 1 },
          columns: { type: 'object', additionalProperties: { enum: ['integer', 'number', 'string', 'timestamp', 'date'] } },
          redis: {
            type: 'object', required: ['key', 'type'], additionalProperties: false,
            properties: { key: { type: 'string', minLength: 1 }, type: { enum: ['set', 'list', 'zset', 'hash', 'json', 'arrow'] }, url: { type: 'string', pattern: '^(rediss?://|\\{env:)' }, timeout_ms: { type: 'integer', minimum: 1 }, retries: { type: 'integer', minimum: 0, maximum: 10 }, ...REDIS_READ_PROPERTIES },
          },
          http: {
            type: 'object', required: ['url'], additionalProperties: false,
            properties: { url: { type: 'string', pattern: '^(https?://|\\{env:)' }, headers: { type: 'object', additionalProperties: { type: 'string' } }, format: { enum: ['arrow', 'json'] }, path: { type: 'string', minLength: 1 }, timeout_ms: { type: 'integer', minimum: 1 }, retries: { type: 'integer', minimum: 0, maximum: 10 }, max_bytes: { type: 'integer', minimum: 1, maximum: 4 * 1024 * 1024 * 1024 } },
          },
        },
      },
    },
    operators: {
      type: 'object',
      propertyNames: { pattern: NAME },
      additionalProperties: {
        type: 'object',
        required: ['use'],
        additionalProperties: false,
        properties: { use: { type: 'string', pattern: NAME }, parameters: { type: 'object' }, description: { type: 'string' } },
      },
    },
    contexts: { type: 'object', propertyNames: { pattern: NAME }, additionalProperties: context },
    operator_paths: { type: 'array', items: { type: 'string', minLength: 1 } },
    // Only the name here: the rest of a pipeline is checked by the compiler (structure.ts), so that a
    // structural error in it does not hide the semantic errors of its sound parts.
    pipeline: PIPELINE_NAMED,
    pipelines: { type: 'array', items: PIPELINE_NAMED },
    deployments: DEPLOYMENTS_SCHEMA,
    experiments: EXPERIMENTS_SCHEMA,
  },
};
