/**
 * `deployments:` config entries: a registry model served on its own as /models/{name}/predict and
 * /models/{name}/query/{id}. Resolved (downloaded, loaded, warmed) when the config loads, like a
 * pipeline's registry model; the binding then follows newer matching versions.
 *
 * ```yaml
 * deployments:
 * - name: psale
 *   description: probability of sale
 *   model: {tags: {name: psale, stage: prod}}
 *   features_from: {dataset: catalog, key: sku_id}   # optional: overrides the envelope's feature source
 * ```
 */
import { MODEL_SPEC_SCHEMA, type JsonSchema, type ModelColumn, type ModelResolver, type ModelSpec, type ResolvedModel } from '../api.js';
import type { Diagnostic, ErrorCode } from '../errors.js';

export interface DeploymentConfig {
  name: string;
  description?: string;
  model: ModelSpec;
  features_from?: { dataset: string; key: string };
}

export interface LoadedDeployment {
  readonly name: string;
  readonly description: string | undefined;
  readonly spec: ModelSpec;
  /** What the spec resolved to when the config loaded (the binding may have moved on since). */
  readonly resolved: ResolvedModel;
  /** The deployment's own `features_from`; without it, /query reads the served version's feature source (featureSource()). */
  readonly featuresFrom: FeatureSource | undefined;
  readonly file: string;
}

const NAME = '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$';

export const DEPLOYMENTS_SCHEMA: JsonSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['name', 'model'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', pattern: NAME },
      description: { type: 'string' },
      model: MODEL_SPEC_SCHEMA,
      features_from: { type: 'object', required: ['dataset', 'key'], additionalProperties: false, properties: { dataset: { type: 'string' }, key: { type: 'string' } } },
    },
  },
};

export interface DeploymentSource {
  readonly file: string;
  readonly list: readonly DeploymentConfig[] | undefined;
  /** A diagnostic located in that file. */
  at(code: ErrorCode, pointer: string, message: string): Diagnostic;
}

interface Columns { has(column: string): boolean }

type FeatureSource = { readonly dataset: string; readonly key: string };

/** Where /query reads the features of an id for a deployment serving `envelope`: its own features_from, else the envelope's pointer. */
export function featureSource(d: LoadedDeployment, envelope: { readonly data: { readonly source?: FeatureSource } }): FeatureSource | undefined {
  return d.featuresFrom ?? envelope.data.source;
}

/**
 * Why a newer version bound to `binding` cannot serve the deployments that follow it (checked before
 * it swaps in): its feature source names a dataset or columns the loaded configs lack. A version
 * published with no feature source swaps in (its /query says it has none, as at load).
 */
export function swapProblem(deployments: Iterable<LoadedDeployment>, datasets: ReadonlyMap<string, Columns>, binding: string, next: { readonly name: string; readonly version: number; readonly function: { readonly inputs: readonly ModelColumn[] }; readonly data: { readonly source?: FeatureSource } }): { code: ErrorCode; reason: string } | undefined {
  for (const d of deployments) {
    if (d.resolved?.binding !== binding) continue;
    const src = featureSource(d, next);
    const p = src ? sourceProblems(src, next.function.inputs, datasets)[0] : undefined;
    if (p) return { code: p.code, reason: `deployment '${d.name}' could not answer /query with it: ${p.message}${d.featuresFrom ? ' (its features_from)' : ` (${next.name}@${next.version} was published with --feature-source ${src!.dataset}:${src!.key}; give the deployment features_from to read another dataset)`}` };
  }
  return undefined;
}

/** Resolves every deployment of every file; all problems are reported together. */
export async function loadDeployments(sources: readonly DeploymentSource[], datasets: ReadonlyMap<string, Columns>, models: ModelResolver | undefined): Promise<{ deployments: Map<string, LoadedDeployment>; diagnostics: Diagnostic[] }> {
  const deployments = new Map<string, LoadedDeployment>();
  const diagnostics: Diagnostic[] = [];
  const jobs: Promise<void>[] = [];
  for (const src of sources) {
    (src.list ?? []).forEach((d, i) => {
      const ptr = `/deployments/${i}`;
      const prev = deployments.get(d.name);
      if (prev) { diagnostics.push(src.at('DUPLICATE_NAME', `${ptr}/name`, `deployment '${d.name}' is also defined in ${prev.file}`)); return; }
      if (!models) { diagnostics.push(src.at('CONFIG_INVALID', `${ptr}/model`, `deployment '${d.name}' names a registry model but the engine has no registry: start it with --registry URL|DIR or AIRMAIL_REGISTRY`)); return; }
      const placeholder = { name: d.name, file: src.file } as unknown as LoadedDeployment;
      deployments.set(d.name, placeholder);
      jobs.push(models.resolve(d.model, `deployment '${d.name}'`).then((resolved) => {
        const source = d.features_from ?? resolved.featureSource;
        const problems = source ? sourceProblems(source, resolved.inputs, datasets) : [];
        for (const p of problems) diagnostics.push(src.at(p.code, `${ptr}/${d.features_from ? 'features_from' : 'model'}`, `deployment '${d.name}': ${p.message}`));
        deployments.set(d.name, { name: d.name, description: d.description, spec: d.model, resolved, featuresFrom: d.features_from, file: src.file });
      }, (err: Error) => {
        const c = (err as { code?: unknown }).code;
        const code = c === 'MODEL_LOAD_FAILED' || c === 'REGISTRY_UNAVAILABLE' ? c : 'CONFIG_INVALID';
        diagnostics.push(src.at(code, `${ptr}/model`, `deployment '${d.name}': ${err.message}`));
      }));
    });
  }
  await Promise.all(jobs);
  return { deployments, diagnostics };
}

function sourceProblems(src: { dataset: string; key: string }, inputs: readonly ModelColumn[], datasets: ReadonlyMap<string, Columns>): { code: ErrorCode; message: string }[] {
  const ds = datasets.get(src.dataset);
  if (!ds) return [{ code: 'UNKNOWN_DATASET', message: `features come from dataset '${src.dataset}', which no config defines` }];
  const missing = [src.key, ...inputs.map((c) => c.name)].filter((c) => !ds.has(c));
  return missing.length ? [{ code: 'UNKNOWN_COLUMN', message: `dataset '${src.dataset}' has no column(s) ${missing.join(', ')} (the key and every model input must be there)` }] : [];
}

/**
 * JSON Schema of one input row, from the function's input columns. Every feature is required, and
 * may be `null`: a missing value, which a numeric input gets as NaN (as /query and pipelines give a
 * feature-source row without one) and a text or boolean one as null. The shape records no
 * nullability (a sample's null count says what the sample held, not what the model takes), so an
 * absent key stays an error: it is far more often a misspelt or forgotten feature than a missing value.
 */
export function rowSchema(inputs: readonly ModelColumn[]): JsonSchema {
  const typeOf = (t: string): string => (t === 'string' ? 'string' : t === 'bool' ? 'boolean' : t.startsWith('int') ? 'integer' : 'number');
  return {
    type: 'object',
    required: inputs.map((c) => c.name),
    additionalProperties: false,
    properties: Object.fromEntries(inputs.map((c) => [c.name, { type: [typeOf(c.type), 'null'], ...INT_RANGE[c.type], description: `${c.type}; null for a missing value` }])),
  };
}

/**
 * The whole numbers an integer input takes. JSON Schema's `integer` is any whole float64 (1e308
 * too), which an int32 tensor cannot hold; an int64 one could, but a JSON number past 2^53 has
 * already lost its last digits when it is parsed, so the value the model got would not be the one sent.
 */
export const INT_RANGE: Readonly<Record<string, { minimum: number; maximum: number } | undefined>> = {
  int32: { minimum: -(2 ** 31), maximum: 2 ** 31 - 1 },
  int64: { minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER },
};

/** One prediction: a NaN output (a missing value) is sent as null. */
export function outputSchema(outputs: readonly ModelColumn[]): JsonSchema {
  return {
    type: 'object',
    properties: Object.fromEntries(outputs.map((c) => [c.name, { type: [c.type === 'string' ? 'string' : c.type === 'bool' ? 'boolean' : 'number', 'null'] }])),
  };
}
