/**
 * The engine: a config store (what is loaded) plus a runner (where it runs).
 * Turns inputs into the public response shape; knows nothing of HTTP.
 */
import type { ValidateFunction } from 'ajv';
import type { Column, OperatorDefinition } from './api.js';
import { valueAt } from './api.js';
import { ConfigStore } from './config-store.js';
import { compilePipeline, type CompiledPipeline } from './config/compile-pipeline.js';
import { validators as paramValidators, type LoadedPipeline, type Snapshot } from './config/load.js';
import { CONFIG_FILE_SCHEMA, type ConfigFile, type PresetConfig } from './config/schema.js';
import { describeErrors, newAjv, type Problem } from './config/validators.js';
import { AirmailError, asAirmailError, type Diagnostic } from './errors.js';
import type { StepTrace } from './execute.js';
import { CheapInlineRunner } from './inline-cheap.js';
import { InlineRunner, PoolRunner, type Runner } from './pool.js';
import { Observability, type ObserveRunOptions, type WhyAnswer } from './observe/index.js';
import { reportOf } from './observe/collect.js';
import { ModelHub, type ModelHubOptions } from './registry/model-hub.js';
import { RemoteBroker, type RemoteOptions } from './remote/broker.js';
import { inlineRemote } from './remote/client.js';
import { remoteDatasetLoader } from './remote/datasets.js';
import { Replicator, type ReplicateOptions } from './replicate.js';

export interface EngineOptions {
  readonly configs: string;
  readonly operators: readonly OperatorDefinition[];
  /** Module URLs of the built-in operators, for workers. */
  readonly operatorModules: readonly string[];
  /** 0 runs pipelines inline on the main thread. Default: one worker per core. */
  readonly threads?: number;
  readonly maxQueue?: number;
  readonly watch?: boolean;
  /** How long a changed config file must hold still before it is applied (default DEFAULT_SETTLE_MS, config-store.ts). */
  readonly reloadSettleMs?: number;
  /** Default request deadline in ms. */
  readonly deadlineMs?: number;
  /** Metrics, logs, tracing (observe/); default: all off, debug and why still answer. */
  readonly observe?: Observability;
  /** Remote sources and their cache; default: Redis at REDIS_URL when set, else in-process only. */
  readonly remote?: RemoteOptions;
  /** Admin changes published to (and applied from) other replicas over Redis; default: on when REDIS_URL is set. */
  readonly replicate?: ReplicateOptions | false;
  /** Heap limit of each worker in MiB (see PoolOptions.workerHeapMb). */
  readonly workerHeapMb?: number;
  /** How long a worker may overrun a deadline before it is stopped (see PoolOptions.watchdogGraceMs). */
  readonly watchdogGraceMs?: number;
  /** Shed a request at once when its estimated queue wait exceeds this (see PoolOptions.maxQueueWaitMs). */
  readonly maxQueueWaitMs?: number;
  /** Pipelines of built-in operators that run in under half this many ms run on the main thread (default 1; 0: never; see inline-cheap.ts). */
  readonly inlineUnderMs?: number;
  /** Model registry (http(s)://, file:// or a folder) for registry models and deployments; default none. */
  readonly registry?: string;
  /** Options of the model hub (artifact cache folder, folder poll interval). */
  readonly modelHub?: Omit<ModelHubOptions, 'location'>;
}

export interface PipelineResponse {
  items: Record<string, unknown>[];
  error: boolean;
  reason: string | null;
  pipeline: string;
  version: string;
  took_ms: number;
  code?: string;
  operator?: string;
  errors?: readonly (Problem | Diagnostic)[];
  debug?: { steps: readonly StepTrace[] };
  why?: WhyAnswer;
  /** Scorer output → the registry model version that scored it (`psale@3`). */
  models?: Readonly<Record<string, string>>;
}

export interface RunOptions extends ObserveRunOptions {
  readonly deadlineMs?: number;
  readonly debug?: boolean;
  readonly signal?: AbortSignal;
}

const strictAjv = newAjv({ useDefaults: true });
const coercingAjv = newAjv({ useDefaults: true, coerceTypes: true });
const validateConfigFile = newAjv({ useDefaults: false }).compile(CONFIG_FILE_SCHEMA as object);

export class Engine {
  readonly store: ConfigStore;
  readonly observe: Observability;
  readonly runner: Runner;
  /** Where remote sources are fetched and cached (main thread; workers ask it over a channel). */
  readonly remote: RemoteBroker;
  /** Set while admin changes are replicated over Redis (engine/replicate.ts). */
  replicator: Replicator | undefined;
  /** Registry models and their live bindings; undefined without --registry. */
  readonly models: ModelHub | undefined;
  private readonly defaultDeadline: number;
  private readonly inputValidators = new WeakMap<CompiledPipeline, { strict: ValidateFunction; query: ValidateFunction }>();
  private readonly adhoc = new Map<string, CompiledPipeline>();
  private startErrors: Diagnostic[] = [];
  private opts: EngineOptions;

  constructor(opts: EngineOptions) {
    this.opts = opts;
    this.models = opts.registry ? new ModelHub({ ...opts.modelHub, location: opts.registry }) : undefined;
    this.observe = opts.observe ?? Observability.quiet();
    this.store = new ConfigStore(opts.configs, new Map(opts.operators.map((d) => [d.name, d])), { ...(this.models ? { models: this.models } : {}), ...(opts.reloadSettleMs !== undefined ? { settleMs: opts.reloadSettleMs } : {}), remoteDatasets: remoteDatasetLoader(() => this.remote) });
    const redisUrl = process.env['REDIS_URL'];
    this.remote = new RemoteBroker(opts.remote ?? (redisUrl ? { redisUrl } : {})).listen();
    this.runner = opts.threads === 0 ? new InlineRunner(inlineRemote(this.remote)) : this.pooled(opts);
    this.defaultDeadline = opts.deadlineMs ?? 10_000;
  }

  private pooled(opts: EngineOptions): Runner {
    const pool = new PoolRunner({ operatorModules: opts.operatorModules, remoteChannel: this.remote.channel, ...(opts.threads ? { threads: opts.threads } : {}), ...(opts.maxQueue ? { maxQueue: opts.maxQueue } : {}), ...(opts.workerHeapMb ? { workerHeapMb: opts.workerHeapMb } : {}), ...(opts.watchdogGraceMs !== undefined ? { watchdogGraceMs: opts.watchdogGraceMs } : {}), ...(opts.maxQueueWaitMs !== undefined ? { maxQueueWaitMs: opts.maxQueueWaitMs } : {}) });
    const budget = opts.inlineUnderMs ?? 1;
    return budget > 0 ? new CheapInlineRunner(pool, new Map(opts.operators.map((d) => [d.name, d])), budget, inlineRemote(this.remote)) : pool;
  }

  async start(): Promise<Diagnostic[]> {
    this.startErrors = await this.store.start();
    const redisUrl = process.env['REDIS_URL'];
    const rep = this.opts.replicate ?? (redisUrl ? { redisUrl } : false);
    if (rep) {
      this.replicator = new Replicator(this.store, rep);
      // A replica whose Redis is away still serves its files; it catches up when Redis answers.
      await this.replicator.start().catch((err: unknown) => process.emitWarning(`config replication: ${(err as Error).message}`, { code: 'AIRMAIL_REPLICATE' }));
    }
    if (this.opts.watch !== false) this.store.watch();
    return this.startErrors;
  }

  async close(): Promise<void> {
    await this.replicator?.close();
    await this.store.close();
    await this.runner.close();
    await this.remote.close();
    await this.models?.close();
  }

  get snapshot(): Snapshot {
    return this.store.snapshot;
  }

  pipeline(name: string): LoadedPipeline {
    const p = this.snapshot.pipelines.get(name);
    if (!p) throw new AirmailError('PIPELINE_NOT_FOUND', `no pipeline named '${name}' is loaded (loaded: ${[...this.snapshot.pipelines.keys()].join(', ') || 'none'})`);
    return p;
  }

  /** Checks inputs against the pipeline's derived schema (with type coercion for query strings). */
  checkInputs(p: CompiledPipeline, inputs: unknown, fromQuery: boolean): Record<string, unknown> {
    let v = this.inputValidators.get(p);
    if (!v) {
      v = { strict: strictAjv.compile(p.inputSchema as object), query: coercingAjv.compile(p.inputSchema as object) };
      this.inputValidators.set(p, v);
    }
    const fn = fromQuery ? v.query : v.strict;
    const copy = inputs && typeof inputs === 'object' && !Array.isArray(inputs) ? { ...(inputs as Record<string, unknown>) } : inputs;
    if (!fn(copy)) {
      const errors = describeErrors(fn.errors);
      throw new AirmailError('INPUT_INVALID', `inputs of pipeline '${p.name}' are invalid: ${errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`, { details: { errors } });
    }
    return copy as Record<string, unknown>;
  }

  /** Compile a pipeline sent with a request (/execute) against the loaded datasets and presets. */
  async compileAdhoc(doc: unknown, text: string): Promise<CompiledPipeline> {
    const snap = this.snapshot;
    const key = `${text.length}:${text}`;
    const hit = this.adhoc.get(key);
    if (hit && snap.pipelines.size >= 0 && this.adhocSnap === snap) return hit;
    if (this.adhocSnap !== snap) {
      this.adhoc.clear();
      this.adhocSnap = snap;
    }
    const d = doc as ConfigFile;
    const diagnostics: Diagnostic[] = [];
    if (!validateConfigFile(doc)) {
      for (const p of describeErrors(validateConfigFile.errors)) diagnostics.push({ code: 'CONFIG_INVALID', pointer: p.path, message: p.message });
    } else if (d.datasets || d.operator_paths) {
      diagnostics.push({ code: 'CONFIG_INVALID', pointer: d.datasets ? '/datasets' : '/operator_paths', message: 'a pipeline sent with a request may use loaded datasets and installed operators only; define datasets and operator folders in the configs directory' });
    } else if (!d.pipeline) {
      diagnostics.push({ code: 'CONFIG_INVALID', pointer: '/pipeline', message: "the body needs a 'pipeline:' to execute" });
    }
    if (diagnostics.length > 0) throw new AirmailError('CONFIG_INVALID', `the pipeline is invalid: ${diagnostics.map((x) => `${x.pointer} ${x.message}`).join('; ')}`, { diagnostics });
    const presets: Map<string, PresetConfig & { file?: string }> = new Map(snap.presets);
    for (const [k, v] of Object.entries(d.operators ?? {})) presets.set(k, v);
    const r = await compilePipeline(d.pipeline!, '/pipeline', {
      operators: snap.operators,
      presets,
      contexts: snap.contexts,
      datasets: snap.datasets,
      datasetIds: snap.datasetIds,
      validators: paramValidators,
      ...(this.models ? { models: this.models } : {}),
      resolvePath: () => {
        throw new AirmailError('CONFIG_INVALID', 'a pipeline sent with a request cannot name files');
      },
    }, undefined).catch((err: unknown) => {
      const e = asAirmailError(err, 'CONFIG_INVALID');
      return { diagnostics: [{ code: e.code, message: e.message }] as Diagnostic[], pipeline: undefined };
    });
    if (!r.pipeline) {
      const first = r.diagnostics[0];
      throw new AirmailError(first?.code ?? 'CONFIG_INVALID', `the pipeline is invalid: ${r.diagnostics.map((x) => `${x.pointer ?? ''} ${x.message}`).join('; ')}`, { diagnostics: r.diagnostics });
    }
    if (this.adhoc.size > 100) this.adhoc.delete(this.adhoc.keys().next().value as string);
    this.adhoc.set(key, r.pipeline);
    return r.pipeline;
  }
  private adhocSnap: Snapshot | undefined;

  /** Run a pipeline; errors that belong in the body (empty, failing source) come back as a response, others throw. */
  async run(p: CompiledPipeline, inputs: Record<string, unknown>, opts: RunOptions = {}): Promise<PipelineResponse> {
    const t0 = performance.now();
    const snap = this.snapshot;
    const deadlineMs = Math.min(opts.deadlineMs ?? Infinity, p.deadlineMs ?? this.defaultDeadline);
    const deadline = Date.now() + deadlineMs;
    const obs = this.observe.begin(p, opts);
    const out = await this.runner.run({ pipeline: p, snapshot: snap, inputs, deadline, trace: opts.debug === true, ...(opts.signal ? { signal: opts.signal } : {}), ...(obs?.spec ? { observe: obs.spec } : {}), ...(this.models ? { models: this.models.refs } : {}) })
      .catch((err: unknown) => { this.observe.fail(obs, asAirmailError(err), reportOf(err)); throw err; });
    const items = toItems(out.columns, out.length);
    const res: PipelineResponse = {
      items,
      error: out.error,
      reason: out.reason,
      pipeline: p.name,
      version: p.version,
      took_ms: Math.round((performance.now() - t0) * 1000) / 1000,
    };
    if (out.error && out.errorCode) res.code = out.errorCode;
    if (out.operator) res.operator = out.operator;
    if (out.models) res.models = out.models;
    if (opts.debug) res.debug = { steps: out.steps };
    this.observe.end(obs, res, out.observed);
    return res;
  }
}

export function toItems(columns: Readonly<Record<string, Column>>, length: number): Record<string, unknown>[] {
  const names = Object.keys(columns);
  const items: Record<string, unknown>[] = new Array(length);
  for (let i = 0; i < length; i++) {
    const row: Record<string, unknown> = {};
    for (const n of names) row[n] = valueAt(columns[n]!, i);
    items[i] = row;
  }
  return items;
}
