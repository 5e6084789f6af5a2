/**
 * The envelope: a versioned, immutable record of one published function.
 *
 *   function  the artifact (sha256, size, flavor) and its shape (typed input and output columns)
 *   context   runtime, language, package versions, git commit, custom-code bundle
 *   index     string tags; `name` and `description` required, `user`/`team` from the environment
 *   data      per-feature summary statistics of the sample, optional feature-source pointer
 *   metrics   scalars and "fancy" metrics (roc_curve, pr_curve, learning_curve, histogram, confusion_matrix)
 *
 * Schemas are compiled once with ajv (all errors) at module load.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { RegistryError } from './errors.js';

export const ENVELOPE_FORMAT = 'airmail.envelope/1';
export type Flavor = 'onnx' | 'js';
export const FLAVORS: readonly Flavor[] = ['onnx', 'js'];
export type ColumnType = 'float32' | 'float64' | 'int32' | 'int64' | 'bool' | 'string';

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  /**
   * onnx output columns only: the model output this column is read from, and the column of it when
   * it is [N, k] (`--outputs psale=probabilities[1]`). Absent: the model's output at this position.
   */
  readonly output?: string;
  readonly column?: number;
}

export interface ArtifactRef {
  readonly sha256: string;
  readonly size: number;
  /** The file name it was published from (informational). */
  readonly filename?: string;
}

export interface FunctionSpec {
  readonly flavor: Flavor;
  readonly artifact: ArtifactRef;
  /** In declared order; for onnx, the order they are packed into the model's [N, F] tensor. */
  readonly inputs: readonly ColumnSpec[];
  readonly outputs: readonly ColumnSpec[];
  /** onnx only: the tensor names the columns are packed into / read from. */
  readonly onnx?: { readonly inputName: string; readonly outputNames: readonly string[] };
}

export interface ContextSpec {
  readonly runtime: string;
  readonly runtimeVersion: string;
  readonly language: string;
  readonly languageVersion?: string;
  /** Package name → exact version. */
  readonly packages: Readonly<Record<string, string>>;
  /** js flavor: the bundled custom code (the artifact itself). */
  readonly bundle?: ArtifactRef;
  readonly gitCommit?: string;
}

export interface FeatureStats {
  readonly type: ColumnType;
  readonly count: number;
  readonly nulls: number;
  readonly mean?: number;
  readonly std?: number;
  readonly min?: number;
  readonly max?: number;
  /** Keys p01, p05, p25, p50, p75, p95, p99. */
  readonly quantiles?: Readonly<Record<string, number>>;
  readonly top?: readonly { readonly value: string; readonly count: number }[];
  readonly distinct?: number;
}

export interface FeatureSource {
  readonly dataset: string;
  readonly key: string;
}

export interface DataSpec {
  readonly rows: number;
  readonly features: Readonly<Record<string, FeatureStats>>;
  readonly source?: FeatureSource;
}

export interface RocCurve { readonly type: 'roc_curve'; readonly fpr: readonly number[]; readonly tpr: readonly number[]; readonly thresholds?: readonly number[]; readonly auc?: number }
export interface PrCurve { readonly type: 'pr_curve'; readonly precision: readonly number[]; readonly recall: readonly number[]; readonly thresholds?: readonly number[]; readonly ap?: number }
export interface LearningCurve { readonly type: 'learning_curve'; readonly steps: readonly number[]; readonly train: readonly number[]; readonly validation?: readonly number[]; readonly metric?: string }
export interface Histogram { readonly type: 'histogram'; readonly edges: readonly number[]; readonly counts: readonly number[] }
export interface ConfusionMatrix { readonly type: 'confusion_matrix'; readonly labels: readonly string[]; readonly matrix: readonly (readonly number[])[] }
export type FancyMetric = RocCurve | PrCurve | LearningCurve | Histogram | ConfusionMatrix;
export type Metric = number | FancyMetric;
export type Metrics = Readonly<Record<string, Metric>>;

export interface Envelope {
  readonly format: typeof ENVELOPE_FORMAT;
  readonly name: string;
  readonly version: number;
  readonly publishedAt: string;
  readonly function: FunctionSpec;
  readonly context: ContextSpec;
  readonly index: Readonly<Record<string, string>>;
  readonly data: DataSpec;
  readonly metrics: Metrics;
}

/** An envelope before the store numbers it. */
export type EnvelopeDraft = Omit<Envelope, 'version' | 'publishedAt'>;

/** What listings return: enough to choose, not the statistics. */
export interface EnvelopeSummary {
  readonly name: string;
  readonly version: number;
  readonly publishedAt: string;
  readonly flavor: Flavor;
  readonly sha256: string;
  readonly index: Readonly<Record<string, string>>;
}

export function summarize(e: Envelope): EnvelopeSummary {
  return { name: e.name, version: e.version, publishedAt: e.publishedAt, flavor: e.function.flavor, sha256: e.function.artifact.sha256, index: e.index };
}

// ---------------------------------------------------------------- names

const NAME_RE = /^[A-Za-z0-9._-]{1,128}$/;
const SHA_RE = /^[0-9a-f]{64}$/;

/**
 * Names that are properties of every object: as a model name, alias, tag key or metric name they
 * become keys of plain objects (aliases.json, the index, metrics), where `constructor` is already
 * there and `__proto__` sets the prototype. The engine refuses them as names everywhere else.
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const RESERVED_LIST = [...RESERVED_KEYS].join(', ');

/** `${what} "__proto__" is reserved ...`, or undefined when `key` is not one of RESERVED_KEYS. */
export function reservedKeyProblem(key: string, what: string): string | undefined {
  return RESERVED_KEYS.has(key) ? `${what} ${JSON.stringify(key)} is reserved: ${RESERVED_LIST} are not allowed as names` : undefined;
}

/** Names become path segments: [A-Za-z0-9._-], at most 128, no '..', not '.'-leading, not a reserved key. */
export function isSafeName(s: unknown): s is string {
  return typeof s === 'string' && NAME_RE.test(s) && !s.includes('..') && !s.startsWith('.') && !RESERVED_KEYS.has(s);
}

export function assertSafeName(s: unknown, what: string): string {
  const reserved = typeof s === 'string' ? reservedKeyProblem(s, what) : undefined;
  if (reserved) throw new RegistryError('NAME_INVALID', reserved);
  if (!isSafeName(s)) {
    throw new RegistryError('NAME_INVALID', `${what} ${JSON.stringify(s)} is not allowed: use 1-128 of [A-Za-z0-9._-], not starting with '.' and without '..'`);
  }
  return s;
}

/** An alias: a safe name that is not all digits (GET /envelopes/{name}/{ref} reads digits as a version, so it could never be fetched there). */
export function assertAliasName(alias: unknown): string {
  assertSafeName(alias, 'alias');
  if (/^[0-9]+$/.test(alias as string)) throw new RegistryError('NAME_INVALID', `alias ${JSON.stringify(alias)} is not allowed: it reads as a version number (use a name such as v${String(alias)})`);
  return alias as string;
}

export function isSha256(s: unknown): s is string {
  return typeof s === 'string' && SHA_RE.test(s);
}

// ---------------------------------------------------------------- schemas

const numArray = { type: 'array', items: { type: 'number' }, minItems: 1 } as const;
const unitArray = { type: 'array', items: { type: 'number', minimum: 0, maximum: 1 }, minItems: 1 } as const;

export const FANCY_METRIC_SCHEMAS = {
  roc_curve: {
    type: 'object', additionalProperties: false, required: ['type', 'fpr', 'tpr'],
    properties: { type: { const: 'roc_curve' }, fpr: unitArray, tpr: unitArray, thresholds: numArray, auc: { type: 'number', minimum: 0, maximum: 1 } },
  },
  pr_curve: {
    type: 'object', additionalProperties: false, required: ['type', 'precision', 'recall'],
    properties: { type: { const: 'pr_curve' }, precision: unitArray, recall: unitArray, thresholds: numArray, ap: { type: 'number', minimum: 0, maximum: 1 } },
  },
  learning_curve: {
    type: 'object', additionalProperties: false, required: ['type', 'steps', 'train'],
    properties: { type: { const: 'learning_curve' }, steps: numArray, train: numArray, validation: numArray, metric: { type: 'string' } },
  },
  histogram: {
    type: 'object', additionalProperties: false, required: ['type', 'edges', 'counts'],
    properties: { type: { const: 'histogram' }, edges: { ...numArray, minItems: 2 }, counts: { type: 'array', items: { type: 'number', minimum: 0 }, minItems: 1 } },
  },
  confusion_matrix: {
    type: 'object', additionalProperties: false, required: ['type', 'labels', 'matrix'],
    properties: {
      type: { const: 'confusion_matrix' },
      labels: { type: 'array', items: { type: 'string' }, minItems: 1 },
      matrix: { type: 'array', minItems: 1, items: { type: 'array', items: { type: 'number', minimum: 0 } } },
    },
  },
} as const;

/** Equal lengths and square matrices: what JSON Schema cannot say. */
function metricShapeProblems(m: FancyMetric): string[] {
  const p: string[] = [];
  const same = (a: string, x: readonly unknown[], b: string, y: readonly unknown[]): void => {
    if (x.length !== y.length) p.push(`${a} has ${x.length} values but ${b} has ${y.length}`);
  };
  if (m.type === 'roc_curve') { same('fpr', m.fpr, 'tpr', m.tpr); if (m.thresholds) same('thresholds', m.thresholds, 'fpr', m.fpr); }
  if (m.type === 'pr_curve') { same('precision', m.precision, 'recall', m.recall); if (m.thresholds && m.thresholds.length !== m.precision.length && m.thresholds.length !== m.precision.length - 1) p.push(`thresholds has ${m.thresholds.length} values; expected ${m.precision.length} or ${m.precision.length - 1}`); }
  if (m.type === 'learning_curve') { same('train', m.train, 'steps', m.steps); if (m.validation) same('validation', m.validation, 'steps', m.steps); }
  if (m.type === 'histogram' && m.edges.length !== m.counts.length + 1) p.push(`edges must have counts+1 = ${m.counts.length + 1} values, not ${m.edges.length}`);
  if (m.type === 'confusion_matrix') {
    if (m.matrix.length !== m.labels.length) p.push(`matrix has ${m.matrix.length} rows for ${m.labels.length} labels`);
    m.matrix.forEach((row, i) => { if (row.length !== m.labels.length) p.push(`matrix row ${i} has ${row.length} cells for ${m.labels.length} labels`); });
  }
  return p;
}

const columnSpec = { type: 'object', additionalProperties: false, required: ['name', 'type'], properties: { name: { type: 'string', minLength: 1 }, type: { enum: ['float32', 'float64', 'int32', 'int64', 'bool', 'string'] }, output: { type: 'string', minLength: 1 }, column: { type: 'integer', minimum: 0 } } } as const;
const artifactRef = { type: 'object', additionalProperties: false, required: ['sha256', 'size'], properties: { sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' }, size: { type: 'integer', minimum: 0 }, filename: { type: 'string' } } } as const;
const notReserved = { not: { enum: ['__proto__', 'constructor', 'prototype'] } } as const;
const safeName = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$', not: { pattern: '\\.\\.' }, allOf: [notReserved] } as const;

export const ENVELOPE_SCHEMA = {
  type: 'object', additionalProperties: false,
  required: ['format', 'name', 'version', 'publishedAt', 'function', 'context', 'index', 'data', 'metrics'],
  properties: {
    format: { const: ENVELOPE_FORMAT },
    name: safeName,
    version: { type: 'integer', minimum: 1 },
    publishedAt: { type: 'string' },
    function: {
      type: 'object', additionalProperties: false, required: ['flavor', 'artifact', 'inputs', 'outputs'],
      properties: {
        flavor: { enum: FLAVORS },
        artifact: artifactRef,
        inputs: { type: 'array', items: columnSpec, minItems: 1 },
        outputs: { type: 'array', items: columnSpec, minItems: 1 },
        onnx: { type: 'object', required: ['inputName', 'outputNames'], properties: { inputName: { type: 'string' }, outputNames: { type: 'array', items: { type: 'string' } } } },
      },
    },
    context: {
      type: 'object', additionalProperties: false, required: ['runtime', 'runtimeVersion', 'language', 'packages'],
      properties: {
        runtime: { type: 'string' }, runtimeVersion: { type: 'string' }, language: { type: 'string' }, languageVersion: { type: 'string' },
        packages: { type: 'object', additionalProperties: { type: 'string' } },
        bundle: artifactRef,
        gitCommit: { type: 'string', pattern: '^[0-9a-f]{7,64}$' },
      },
    },
    index: {
      type: 'object', required: ['name', 'description'],
      propertyNames: { pattern: '^[A-Za-z0-9._-]{1,128}$', ...notReserved },
      additionalProperties: { type: 'string', maxLength: 4096 },
      properties: { name: safeName, description: { type: 'string', minLength: 1 } },
    },
    data: {
      type: 'object', additionalProperties: false, required: ['rows', 'features'],
      properties: {
        rows: { type: 'integer', minimum: 0 },
        features: { type: 'object', additionalProperties: { type: 'object', required: ['type', 'count', 'nulls'] } },
        source: { type: 'object', additionalProperties: false, required: ['dataset', 'key'], properties: { dataset: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 } } },
      },
    },
    metrics: { type: 'object' },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: false });
const validateEnvelopeSchema: ValidateFunction = ajv.compile(ENVELOPE_SCHEMA);
const metricValidators = new Map<string, ValidateFunction>(
  Object.entries(FANCY_METRIC_SCHEMAS).map(([k, s]) => [k, ajv.compile(s)]),
);

function formatAjv(errors: readonly ErrorObject[] | null | undefined, prefix: string): string[] {
  return (errors ?? []).map((e) => {
    const where = `${prefix}${e.instancePath}`;
    const extra = e.keyword === 'additionalProperties' ? ` '${String((e.params as { additionalProperty?: string }).additionalProperty)}'`
      : e.keyword === 'required' ? '' : e.keyword === 'enum' ? ` (${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)})` : '';
    return `${where || '/'} ${e.message ?? e.keyword}${extra}`;
  });
}

/** All problems of a metrics object at once; empty when valid. */
export function metricProblems(metrics: unknown): string[] {
  if (!metrics || typeof metrics !== 'object' || Array.isArray(metrics)) return ['metrics must be an object of name → number or {type, ...}'];
  const problems: string[] = [];
  for (const [name, m] of Object.entries(metrics as Record<string, unknown>)) {
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(name)) { problems.push(`metric name ${JSON.stringify(name)} is not [A-Za-z0-9._-]`); continue; }
    const reserved = reservedKeyProblem(name, 'metric name');
    if (reserved) { problems.push(reserved); continue; }
    if (typeof m === 'number') { if (!Number.isFinite(m)) problems.push(`metric '${name}': scalar must be a finite number`); continue; }
    const type = m && typeof m === 'object' ? (m as { type?: unknown }).type : undefined;
    const validate = typeof type === 'string' ? metricValidators.get(type) : undefined;
    if (!validate) {
      const got = m === null ? 'null' : Array.isArray(m) ? 'an array' : typeof m !== 'object' ? `a ${typeof m} (${JSON.stringify(m)})` : type === undefined ? 'an object without "type"' : `type ${JSON.stringify(type)}`;
      problems.push(`metric '${name}': must be a number or an object whose type is one of ${Object.keys(FANCY_METRIC_SCHEMAS).join(', ')} (got ${got})`);
      continue;
    }
    if (!validate(m)) { problems.push(...formatAjv(validate.errors, `metric '${name}' (${type}): `).map((s) => s.replace(/: \//, ': /'))); continue; }
    for (const s of metricShapeProblems(m as FancyMetric)) problems.push(`metric '${name}' (${type}): ${s}`);
  }
  return problems;
}

export function assertValidMetrics(metrics: unknown): Metrics {
  const problems = metricProblems(metrics);
  if (problems.length) throw new RegistryError('METRIC_INVALID', `invalid metrics:\n  ${problems.join('\n  ')}`, { details: { problems } });
  return metrics as Metrics;
}

/** Checks a complete envelope (schema, names, metrics); collects every problem. */
export function envelopeProblems(e: unknown): string[] {
  const problems = validateEnvelopeSchema(e) ? [] : formatAjv(validateEnvelopeSchema.errors, 'envelope');
  const env = e as Partial<Envelope> | null;
  if (env && typeof env === 'object') {
    if (env.index && env.name !== undefined && env.index.name !== env.name) problems.push(`envelope/index/name '${env.index.name}' differs from envelope name '${env.name}'`);
    if (env.metrics !== undefined) problems.push(...metricProblems(env.metrics));
  }
  return problems;
}

export function assertValidEnvelope(e: unknown): Envelope {
  const problems = envelopeProblems(e);
  if (problems.length) throw new RegistryError('ENVELOPE_INVALID', `invalid envelope:\n  ${problems.join('\n  ')}`, { details: { problems } });
  return e as Envelope;
}
