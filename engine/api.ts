/**
 * The public operator API: the only engine module that `operators/` may import.
 *
 * An operator is a plain definition object (see `defineOperator`). The engine
 * checks its parameters against `parameters` (JSON Schema) once, when a config
 * loads; at request time the operator receives parameters with every `$input`
 * and `$context.column` reference already replaced by its value.
 *
 * Execution model: a request works on one *frame* (the candidate rows, keyed by
 * the pipeline's item type) and an ordered selection of row indices into it.
 * Operators never mutate the frame:
 *  - a Source returns candidate ids or rows;
 *  - a Filter returns the subset of `input.rows` it keeps (same order);
 *  - a Score returns one number per row of `input.rows`;
 *  - a Transform returns a new selection (subset and/or order) and/or new
 *    columns aligned with `input.rows`.
 */
import { AirmailError, type ErrorCode } from './errors.js';

export { AirmailError } from './errors.js';
export { parseSelector, selectionProblem, firstWide, describeOutputs, exampleSelector, type OutputInfo as ModelOutputInfo, type OutputSelect } from './models/output-select.js';
import type { OutputInfo as ModelOutputInfo } from './models/output-select.js';
export type { ErrorCode } from './errors.js';

// ---------------------------------------------------------------- columns (engine/columns.ts)

export * from './columns.js';
import type { Column, Scalar } from './columns.js';
export { expandEnv, unsetEnvMessage, unsetEnvNames } from './env-ref.js';
export { formatInstant, parseInstant, TIME_BOUND_PATTERN, TIME_GRAMMAR } from './time.js';
export { REDIS_READ_PROPERTIES, redisReadProblems, type RedisReadParams } from './remote/redis-read.js';

// ---------------------------------------------------------------- datasets

/** A named table loaded once and shared read-only by every worker. */
export interface Dataset {
  readonly name: string;
  readonly length: number;
  /** Column that identifies a row, if the dataset declared one. */
  readonly key: string | undefined;
  readonly columnNames: readonly string[];
  has(column: string): boolean;
  /** Throws UNKNOWN_COLUMN naming the dataset when absent. */
  column(name: string): Column;
  /** Row of the first row whose `column` equals `value`, or -1. Indexed on first use. */
  findRow(column: string, value: Scalar): number;
  /** Row numbers whose `column` equals `value` (ascending). Indexed on first use. */
  rowsWhere(column: string, value: Scalar): Int32Array;
  /** findRow for many values at once: the row of each `values[at[k]]` (every value when `at` is omitted). */
  findRows(column: string, values: Column, at?: Int32Array): Int32Array;
  /** Whether `column` held JSON booleans (stored as 1 and 0): such a column holds no item ids. */
  holdsBooleans?(column: string): boolean;
  /** Whether `column` holds instants (a `timestamp` column: epoch ms, answered as ISO text). */
  holdsInstants?(column: string): boolean;
}

// ---------------------------------------------------------------- frames

/** The candidate rows of one request. */
export interface Frame {
  readonly length: number;
  /** Name of the item-id column (the pipeline's `item_type`). */
  readonly key: string;
  has(column: string): boolean;
  /** Throws UNKNOWN_COLUMN when absent. Columns are frame-length. */
  column(name: string): Column;
  readonly columnNames: readonly string[];
  /**
   * Where the frame's items live: the items dataset, the row in it of each
   * given frame row (-1 when absent), and whether a frame column still holds
   * that dataset's values unchanged. Undefined when the pipeline has no items dataset.
   */
  items?(): FrameItems | undefined;
}

export interface FrameItems {
  readonly dataset: Dataset;
  rowsOf(frameRows: Int32Array): Int32Array;
  isDatasetColumn(column: string): boolean;
  /**
   * When the frame's rows are shared by many requests (memoised candidates):
   * the dataset row of every frame row, the same array object on every
   * request for those candidates, so work over them can be kept keyed on it.
   */
  sharedRows?(): Int32Array | undefined;
}

/** What a Filter, Score or Transform sees: the frame and the live rows, in order. */
export interface RowSet {
  readonly frame: Frame;
  /** Indices into `frame` of the live rows, in their current order. Never mutate. */
  readonly rows: Int32Array;
  /**
   * Set when only the first `upTo` rows of a transform's answer are used (the next step is a
   * `Limit`, or an `Offset` then a `Limit`: see TransformDefinition.keepsFirst and passesUpTo): a
   * step that orders rows may answer only those
   * first rows, in order. Never set on debug, why or traced runs, whose steps show their full answers.
   */
  readonly upTo?: number;
}

/** Context handed to every operator run. */
export interface RunContext {
  /** The pipeline's item type (key column name). */
  readonly itemType: string;
  /** Name of the dataset that holds item rows, when the pipeline has one. */
  readonly itemsDataset: string | undefined;
  dataset(name: string): Dataset;
  /** Request inputs after schema checking. */
  readonly inputs: Readonly<Record<string, unknown>>;
  /** Aborted when the request's deadline passes or the client goes away. */
  readonly signal: AbortSignal;
  /** Load (once per worker) a model by its resolved reference. */
  model(ref: ModelRef): Promise<ModelRunner>;
  /**
   * A table from a remote source (an upstream HTTP service, a Redis key),
   * through the engine's cache: Redis when REDIS_URL is set, else an
   * in-process LRU; TTL with jitter, one upstream call per key however many
   * requests miss at once, stale-while-revalidate. The table is shared and
   * read-only. Fails with SOURCE_FAILED after the bounded retries.
   */
  remote(fetch: RemoteFetch): Promise<Dataset>;
}

// ---------------------------------------------------------------- remote sources

/** GET an upstream HTTP service; the body is JSON (rows, scalars, or either under `path`) or Arrow IPC. */
export interface HttpRequestSpec {
  readonly kind: 'http';
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Per attempt, headers and body; default 1000. */
  readonly timeoutMs?: number;
  /** Extra attempts after a failure (connection error, timeout, 5xx, 429); default 2. */
  readonly retries?: number;
  /** First backoff in ms, doubled per retry, with jitter; default 25. */
  readonly backoffMs?: number;
  /** Body format; default from the content type (Arrow when it says arrow, else JSON). */
  readonly format?: 'json' | 'arrow';
  /** Dotted path of the JSON field that holds the rows, e.g. `data.items`. */
  readonly path?: string;
  /** The largest body accepted, as sent and once decompressed; default 16 MiB. Larger is SOURCE_FAILED, not retried. */
  readonly maxBytes?: number;
}

/** Value shapes a Redis key can hold. */
export type RedisValueType = 'set' | 'hash' | 'list' | 'zset' | 'json' | 'arrow';

/**
 * Read a Redis key: `set`/`list` → column `value`; `hash` → `field`, `value`;
 * `zset` → `value`, `score`; `json` → a JSON string as rows; `arrow` → an Arrow IPC blob.
 */
export interface RedisRequestSpec {
  readonly kind: 'redis';
  readonly key: string;
  readonly type: RedisValueType;
  /** redis://host:port/db; default the engine's REDIS_URL. */
  readonly url?: string;
  /** Per command; default 100. */
  readonly timeoutMs?: number;
  readonly retries?: number;
  readonly backoffMs?: number;
  /**
   * The most members a set/list/zset/hash may hold (default 100,000); a larger key fails with
   * SOURCE_FAILED naming its size, before its members are read. Not retried.
   */
  readonly maxItems?: number;
  /** The largest json/arrow string in bytes (default 16 MiB); larger fails before it is read. */
  readonly maxBytes?: number;
  /** list/zset only: read only the first `limit` members (a list from its head, a zset from the `order` end). */
  readonly limit?: number;
  /** zset only: `asc` reads from the lowest score (Redis's ZRANGE order, the default), `desc` from the highest. */
  readonly order?: 'asc' | 'desc';
}

export type RemoteRequest = HttpRequestSpec | RedisRequestSpec;

export interface CachePolicy {
  /** Fresh lifetime in ms (before jitter). */
  readonly ttlMs: number;
  /** Fraction in [0, 1): the lifetime is uniform in [ttl·(1−jitter), ttl]; default 0.1. */
  readonly jitter?: number;
  /** After the fresh lifetime, serve the old value while one refresh runs; default 0. */
  readonly staleMs?: number;
  /** After that, keep the old value as the answer when the source fails; default 0. */
  readonly staleIfErrorMs?: number;
}

export interface RemoteFetch {
  readonly request: RemoteRequest;
  readonly cache: CachePolicy;
  /**
   * Stats bucket and metrics label, e.g. the operator name: a fixed name, not one holding request
   * values (each distinct one is a series). Left out: `http (unnamed source)` / `redis (unnamed source)`.
   */
  readonly source?: string;
}

export interface ModelRef {
  /** Absolute path of an ONNX file, or a registry artifact path. */
  readonly path: string;
  readonly version: string;
  /**
   * The model file as the config named it (absolute), when `path` is the copy of it checked at load
   * (ModelScore's `pinned`): traces name the model by it, as metrics and debug parameters do.
   */
  readonly file?: string;
  /**
   * A registry binding (ResolvedModel.binding): the engine replaces path and version with the model
   * the binding pointed at when the request started, and names it in the response's `models`.
   */
  readonly binding?: string;
  /** A registry function of the js flavor (absent: an ONNX model). */
  readonly flavor?: 'onnx' | 'js';
  /** js functions: their input columns, in the order ModelScore gives the features. */
  readonly inputs?: readonly string[];
  /**
   * The output the scores are read from. js functions: the first declared output column. ONNX: a
   * model output chosen by a selector (absent: the model's first output); with `column`, that
   * column of an [N, k] output (a classifier's probabilities[1]).
   */
  readonly output?: string;
  /** ONNX: the column of `output` scored by, when it is [N, k]. */
  readonly column?: number;
  /** js functions: the artifact's sha256, checked again before the module is loaded. */
  readonly sha256?: string;
}

export interface ModelRunner {
  readonly inputName: string;
  readonly featureCount: number;
  /** Runs the model on a row-major float32 matrix [rows, featureCount]; returns the first output column. */
  predict(features: Float32Array, rows: number): Promise<Float32Array>;
  /**
   * Scores rows of an items dataset when every feature is either an unchanged
   * column of it or one value for the whole request (a context value). Runners
   * that can exploit this (tree ensembles) answer; others return undefined and
   * the caller falls back to `predict`. Same result as `predict`.
   */
  scoreItems?(features: ItemFeatures): Promise<Float32Array | undefined>;
}

/** Model inputs taken from an items dataset (see ModelRunner.scoreItems). */
export interface ItemFeatures {
  readonly dataset: Dataset;
  /** Per model input: the dataset column it reads, or null when the input is a per-request constant. */
  readonly columns: readonly (string | null)[];
  /** Per model input: its constant value (read where `columns[j]` is null). */
  readonly constants: Float64Array;
  /** The dataset row of each row to score (all >= 0). */
  readonly rows: Int32Array;
  /**
   * Set when the rows are candidates shared by many requests (see
   * FrameItems.sharedRows): rows[k] = base.rows[base.at[k]], and base.rows is
   * the same array object for every request over those candidates.
   */
  readonly base?: { readonly rows: Int32Array; readonly at: Int32Array };
}

// ---------------------------------------------------------------- registry models

/** A model named in the registry: the newest envelope matching `tags` (or that version of it), an alias, or a pinned version. */
export type ModelSpec =
  | { readonly tags: Readonly<Record<string, string>>; readonly version?: number }
  | { readonly name: string; readonly alias: string }
  | { readonly name: string; readonly version: number };

/** JSON Schema of a ModelSpec, for operator parameters and config sections. */
export const MODEL_SPEC_SCHEMA: JsonSchema = {
  oneOf: [
    { type: 'object', required: ['tags'], additionalProperties: false, properties: { tags: { type: 'object', minProperties: 1, additionalProperties: { type: 'string' } }, version: { type: 'integer', minimum: 1 } } },
    { type: 'object', required: ['name', 'alias'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1 }, alias: { type: 'string', minLength: 1 } } },
    { type: 'object', required: ['name', 'version'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1 }, version: { type: 'integer', minimum: 1 } } },
  ],
};

export interface ModelColumn {
  readonly name: string;
  /** float32 | float64 | int32 | int64 | bool | string */
  readonly type: string;
}

/** What a spec resolved to when the config compiled. The engine keeps the binding on the newest match. */
export interface ResolvedModel {
  /** Stable key of the spec; pass it as ModelRef.binding at run time. */
  readonly binding: string;
  readonly name: string;
  readonly version: number;
  /** 'onnx' | 'js' */
  readonly flavor: string;
  /** The function's input columns, in the order an onnx model packs them. */
  readonly inputs: readonly ModelColumn[];
  readonly outputs: readonly ModelColumn[];
  /** Where the features of one id can be read (the envelope's feature-source pointer), if published with one. */
  readonly featureSource?: { readonly dataset: string; readonly key: string };
}

/** Resolves registry model specs at config load (see CheckEnv.models). */
export interface ModelResolver {
  /** `user` says what will use the model (`pipeline 'home'`, `deployment 'psale'`), for the engine's messages. */
  resolve(spec: ModelSpec, user?: string): Promise<ResolvedModel>;
}

// ---------------------------------------------------------------- results

/** Rows returned by a Source: `ids` of the item type, plus any extra columns aligned with it. */
export interface SourceResult {
  readonly ids: Int32Array | Float64Array | readonly (string | number)[];
  readonly columns?: Readonly<Record<string, Column>>;
}

export interface TransformResult {
  /** New selection (indices into the frame). Omit to keep the input rows. */
  readonly rows?: Int32Array;
  /** New or replaced columns, each aligned with `input.rows` (not the new `rows`). */
  readonly columns?: Readonly<Record<string, Column>>;
}

// ---------------------------------------------------------------- definitions

/** A JSON Schema object (draft-07 subset as accepted by ajv). */
export type JsonSchema = { readonly [k: string]: unknown };

export type OperatorKind = 'source' | 'filter' | 'score' | 'transform';

/** Facts about the surrounding config, for compile-time checks. */
export interface CheckEnv {
  readonly itemType: string;
  readonly itemsDataset: string | undefined;
  /** Columns of a dataset, or undefined when no such dataset exists. */
  datasetColumns(name: string): readonly string[] | undefined;
  /** The type of a dataset's column, or undefined when either is unknown. */
  datasetColumnType?(dataset: string, column: string): ColumnType | undefined;
  /**
   * Why a dataset's column cannot serve as item ids (numbers past 2^53, already rounded when the
   * data was read), as a sentence naming the dataset, or undefined when it can.
   */
  datasetIdProblem?(dataset: string, column: string): string | undefined;
  /** Resolve a file path given in a config relative to that config file. */
  resolvePath(path: string): string;
  /** The model registry, when the engine has one (--registry / AIRMAIL_REGISTRY). */
  readonly models?: ModelResolver;
  /**
   * Loads a model file once at config load and says how many input features it takes (-1: not
   * fixed), and where a copy of exactly the bytes it checked is kept (`pinned`, named by their
   * sha256): a step that runs the pinned copy keeps serving those bytes whatever happens to the file.
   */
  modelFile?(path: string): Promise<{ readonly featureCount: number; readonly pinned?: string; readonly outputs?: readonly ModelOutputInfo[] }>;
  /** A file the step needs that is not there (yet): its arrival reloads the configs, as an edit of a file read does. */
  watchMissing?(path: string): void;
}

/** A column's type as configs and request inputs see it (`timestamp`: epoch ms, see engine/time.ts). */
export type ColumnType = 'integer' | 'number' | 'string' | 'timestamp';

/** A parameter value (or list of values) compared with a column; see `compares`. */
export interface ValueSite {
  /** JSON pointer, relative to the parameters, of the value or the list of values. */
  readonly path: string;
  readonly column: string;
  /** The dataset holding `column`; absent: the frame column (an earlier step's, or the items dataset's). */
  readonly dataset?: string;
  /**
   * `equals` (default): compared for equality, numbers and numeric text as numbers;
   * `id`: item ids, whose type must be the column's exactly; `range`: bounds, numbers on a number
   * column and time bounds (`2024-10-01`, `now-30d`) on a `timestamp` one: the engine resolves a time
   * bound to epoch ms per request, so the operator receives a number (or an input's ISO text);
   * `number`: no value is compared, the column itself is read as numbers (a score), so it must hold
   * numbers or numeric text (`path`: the parameter that names the column); a `$context.column`
   * reference at `path` is read as a number too, so a context column of timestamps is refused.
   */
  readonly as?: 'equals' | 'id' | 'range' | 'number';
}

/** A problem found by `check`: `path` is a JSON pointer relative to the parameters. */
export interface ParamProblem {
  readonly path: string;
  readonly message: string;
  readonly code?: ErrorCode;
}

interface BaseDefinition<P> {
  readonly name: string;
  /** One sentence for docs and /openapi.json. */
  readonly summary: string;
  /** JSON Schema of the parameters. A `$ref` string is accepted wherever a value is. */
  readonly parameters: JsonSchema;
  /**
   * Same parameters and datasets give the same result (no clock, randomness,
   * remote calls or request state beyond the parameters). Lets the planner
   * memoise candidates built only from pure steps, and the whole result of a
   * pipeline that excludes nothing and is made only of pure steps.
   */
  readonly pure?: boolean;
  /**
   * Parameters that say where the operator connects (a URL, a Redis key, request headers): an
   * operator that declares them reaches other services. A config sent over HTTP (`/execute`,
   * `/validate`, admin `POST /pipelines`) may use it only through a preset from the configs
   * directory, and may not set these parameters itself.
   */
  readonly connects?: readonly string[];
  /**
   * Parameters that bound how much a connecting operator reads (`max_bytes`, `max_items`): they
   * protect the server, so a config sent over HTTP may not set them either; the preset decides.
   */
  readonly bounds?: readonly string[];
  /**
   * Parameters that name what the config loads and checks before any request (a dataset, a model,
   * a file or URL), each with what it names (`{dataset: 'a dataset'}`): a request input cannot stand
   * for them (`dataset: $ds` is a load error), since what it would name was never checked.
   */
  readonly fixed?: Readonly<Record<string, string>>;
  /**
   * For operators that are not pure but whose answer is cached for a while
   * (remote sources with a TTL): how long a result may be reused. Candidates
   * built from such steps are memoised for at most this long.
   */
  memoTtlMs?(params: P): number | undefined;
  /** Frame columns the operator reads (the engine hydrates them from the items dataset if needed). */
  reads?(params: P, env: CheckEnv): readonly string[];
  /** Frame columns the operator adds. */
  writes?(params: P, env: CheckEnv): readonly string[];
  /** Types of the columns in `writes`, where known (later steps' values are typed and checked against them). */
  writeTypes?(params: P, env: CheckEnv): Readonly<Record<string, ColumnType>>;
  /**
   * Parameter values that are compared with a column's values. At load the engine gives a `$input`
   * found there the column's type (so a request with another type is a 422) and checks literals
   * against the column (a text literal never equals a number column's values).
   */
  compares?(params: P, env: CheckEnv): readonly ValueSite[];
  /** Compile-time checks beyond the schema (unknown datasets, columns, files). */
  check?(params: P, env: CheckEnv): readonly ParamProblem[];
  /**
   * Async compile-time checks (e.g. load a model once and compare its input
   * width with the features given). Runs at config load, never per request.
   */
  verify?(params: P, env: CheckEnv): Promise<readonly ParamProblem[]>;
  /**
   * Compile-time rewrite of parameters (e.g. resolve a relative file path).
   * Runs after the schema check and before `check`; must be deterministic.
   */
  normalize?(params: P, env: CheckEnv): P | Promise<P>;
}

export interface SourceDefinition<P> extends BaseDefinition<P> {
  readonly kind: 'source';
  run(params: P, ctx: RunContext): SourceResult | Promise<SourceResult>;
}

export interface FilterDefinition<P> extends BaseDefinition<P> {
  readonly kind: 'filter';
  /** Returns the subset of `input.rows` to keep, in the same order. */
  run(params: P, input: RowSet, ctx: RunContext): Int32Array | Promise<Int32Array>;
}

export interface ScoreDefinition<P> extends BaseDefinition<P> {
  readonly kind: 'score';
  /** Returns one score per element of `input.rows`. */
  run(params: P, input: RowSet, ctx: RunContext): Float64Array | Float32Array | Promise<Float64Array | Float32Array>;
}

export interface TransformDefinition<P> extends BaseDefinition<P> {
  readonly kind: 'transform';
  /** True when the transform keeps each row's fate independent of other rows (may move before scorers). */
  readonly rowwise?: boolean;
  /**
   * When the transform keeps the first n rows of its input in their order and nothing else (a
   * Limit), n for these bound parameters: the transform before it is told `input.upTo = n`.
   */
  keepsFirst?(params: P): number | undefined;
  /**
   * When the transform's first `upTo` rows out need only a prefix of its input (an Offset of k needs
   * the first `upTo + k`), that prefix's length for these bound parameters, else undefined. Asked only
   * when the steps after it use a prefix of its answer; the transform before it is told `input.upTo`.
   */
  passesUpTo?(params: P, upTo: number): number | undefined;
  run(params: P, input: RowSet, ctx: RunContext): TransformResult | Promise<TransformResult>;
}

export type OperatorDefinition<P = unknown> =
  | SourceDefinition<P>
  | FilterDefinition<P>
  | ScoreDefinition<P>
  | TransformDefinition<P>;

/** Identity helper that gives an operator definition its parameter type. */
export function defineOperator<P>(def: SourceDefinition<P>): SourceDefinition<P>;
export function defineOperator<P>(def: FilterDefinition<P>): FilterDefinition<P>;
export function defineOperator<P>(def: ScoreDefinition<P>): ScoreDefinition<P>;
export function defineOperator<P>(def: TransformDefinition<P>): TransformDefinition<P>;
export function defineOperator<P>(def: OperatorDefinition<P>): OperatorDefinition<P> {
  return Object.freeze(def);
}

/** Raise a coded error from an operator; the engine adds the operator's name. */
export function operatorError(code: ErrorCode, message: string): AirmailError {
  return new AirmailError(code, message);
}
