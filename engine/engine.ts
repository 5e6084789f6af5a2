/**
 * The engine: a config store (what is loaded) plus a runner (where it runs).
 * Turns inputs into the public response shape; knows nothing of HTTP.
 */
import { resolve, sep } from 'node:path';
import type { ValidateFunction } from 'ajv';
import type { Column, OperatorDefinition } from './api.js';
import { valueAt } from './api.js';
import { ConfigStore } from './config-store.js';
import { compilePipeline, type CompiledPipeline } from './config/compile-pipeline.js';
import { DutyLimit } from './reliability/duty.js';
import { validators as paramValidators, type LoadedPipeline, type Snapshot } from './config/load.js';
import { CONFIG_FILE_SCHEMA, type ConfigFile, type PresetConfig } from './config/schema.js';
import { describeErrors, didYouMean, newAjv, type Problem, type ValueSource } from './config/validators.js';
import { nonFiniteProblems, reservedNameProblems, sealedProblems } from './config/sealed.js';
import { AirmailError, asAirmailError, clientClosedError, clip, PATH_CHARS, summarise, type Diagnostic } from './errors.js';
import type { StepTrace } from './execute.js';
import { CheapInlineRunner } from './inline-cheap.js';
import { InlineRunner, PoolRunner, type Runner } from './pool.js';
import type { QueueSignal } from './slot-queue.js';
import { coerceQueryInputs, instantInputProblems, nullsAsDefaults, unrepresentableInputs, withInputNames } from './inputs.js';
import { Observability, type ObserveRunOptions, type WhyAnswer } from './observe/index.js';
import { reportOf } from './observe/collect.js';
import { swapProblem } from './registry/deployments.js';
import type { Envelope } from './registry/envelope.js';
import { ModelHub, type ModelHubOptions, type ModelLease, type ModelLogEvent } from './registry/model-hub.js';
import { retryWhileRegistryDown } from './registry/retry.js';
import { RemoteBroker, type RemoteOptions } from './remote/broker.js';
import { inlineRemote } from './remote/client.js';
import { remoteDatasetLoader } from './remote/datasets.js';
import { Replicator, type ReplicateOptions } from './replicate.js';
import { redactParams } from './redact.js';
import { adhocFallbackProblems, runWithFallback, type FallbackNote } from './fallback.js';
import { formatInstant } from './time.js';

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
  /** Workers one pipeline may hold unless its `max_workers` says (see PoolOptions.maxWorkersPerPipeline). */
  readonly maxWorkersPerPipeline?: number;
  /** Pipelines of built-in operators that run in under half this many ms run on the main thread (default 1; 0: never; see inline-cheap.ts). */
  readonly inlineUnderMs?: number;
  /** Model registry (http(s)://, file:// or a folder) for registry models and deployments; default none. */
  readonly registry?: string;
  /** Options of the model hub (artifact cache folder, folder poll interval). */
  readonly modelHub?: Omit<ModelHubOptions, 'location'>;
  /** The clock `now` (time bounds such as `now-30d`) is read from, once per request; default Date.now. For tests. */
  readonly clock?: () => number;
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
  debug?: { steps: readonly StepTrace[]; fallback_from?: { pipeline: string; steps: readonly StepTrace[] } };
  why?: WhyAnswer;
  /** The pipeline's own run failed and its fallback answered (fallback.ts). */
  fallback?: FallbackNote;
  /** Scorer output → the registry model version that scored it (`psale@3`). */
  models?: Readonly<Record<string, string>>;
}

export interface RunOptions extends ObserveRunOptions {
  readonly deadlineMs?: number;
  /** The deadline as a time (Date.now()), set by the fallback wrapper; overrides deadlineMs. */
  readonly deadlineAt?: number;
  readonly debug?: boolean;
  /**
   * Aborted when the request's client has gone (engine/http/client-gone.ts): the run leaves the
   * worker queue or is cancelled in its worker, no fallback starts, and it ends in CLIENT_CLOSED (499).
   */
  readonly signal?: QueueSignal;
  /** The snapshot the run reads (its datasets): a batch pins the one its pipeline came from (engine/batch.ts). */
  readonly snapshot?: Snapshot;
  /** The request's now (epoch ms) for time bounds, pinned (x-airmail-now); default: the engine's clock. */
  readonly now?: number;
}

const strictAjv = newAjv({ useDefaults: true });
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
  private readonly clock: () => number;
  private readonly inputValidators = new WeakMap<object, ValidateFunction>();
  private readonly adhoc = new Map<string, CompiledPipeline>();
  /**
   * Pipelines sent with a request (compileAdhoc): counted under one fixed label, never under their
   * own names, and their own deadline_ms may only shorten the server's.
   */
  private readonly adhocMade = new WeakSet<CompiledPipeline>();
  private startErrors: Diagnostic[] = [];
  /** Re-proposes configs refused because the registry was away (engine/registry/retry.ts). */
  private registryRetry: { close(): void } | undefined;
  private opts: EngineOptions;

  constructor(opts: EngineOptions) {
    this.opts = opts;
    // Model swaps and rejections are JSON log lines like the reload lines (a log shipper sees them), unless the caller takes them.
    const modelLog = (line: string, e: ModelLogEvent): void => this.observe.logger.log(e.level, line, { event: e.event, model: e.model, from: e.from, to: e.to, code: e.code });
    // A newer version must be servable by the deployments that follow it (its feature source), checked against the served configs.
    const vet = (binding: string, next: Envelope): { code: string; reason: string } | undefined => swapProblem(this.snapshot.deployments?.values() ?? [], this.snapshot.datasets, binding, next);
    this.models = opts.registry ? new ModelHub({ log: modelLog, vet, ...opts.modelHub, location: opts.registry }) : undefined;
    this.observe = opts.observe ?? Observability.quiet();
    this.observe.configsBase = resolve(opts.configs) + sep;
    this.store = new ConfigStore(opts.configs, new Map(opts.operators.map((d) => [d.name, d])), { ...(this.models ? { models: this.models } : {}), ...(opts.reloadSettleMs !== undefined ? { settleMs: opts.reloadSettleMs } : {}), remoteDatasets: remoteDatasetLoader(() => this.remote) });
    const redisUrl = process.env['REDIS_URL'];
    this.remote = new RemoteBroker(opts.remote ?? (redisUrl ? { redisUrl } : {})).listen();
    this.runner = opts.threads === 0 ? new InlineRunner(inlineRemote(this.remote)) : this.pooled(opts);
    this.defaultDeadline = opts.deadlineMs ?? 10_000;
    this.clock = opts.clock ?? Date.now;
  }

  private pooled(opts: EngineOptions): Runner {
    const pool = new PoolRunner({ operatorModules: opts.operatorModules, remoteChannel: this.remote.channel, ...(opts.threads ? { threads: opts.threads } : {}), ...(opts.maxQueue ? { maxQueue: opts.maxQueue } : {}), ...(opts.workerHeapMb ? { workerHeapMb: opts.workerHeapMb } : {}), ...(opts.watchdogGraceMs !== undefined ? { watchdogGraceMs: opts.watchdogGraceMs } : {}), ...(opts.maxQueueWaitMs !== undefined ? { maxQueueWaitMs: opts.maxQueueWaitMs } : {}), ...(opts.maxWorkersPerPipeline ? { maxWorkersPerPipeline: opts.maxWorkersPerPipeline } : {}) });
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
    const models = this.models;
    if (models) this.registryRetry = retryWhileRegistryDown(this.store, { onRegistryChange: (fn) => models.onRegistryChange(fn) });
    return this.startErrors;
  }

  async close(): Promise<void> {
    this.registryRetry?.close();
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
    if (!p) {
      // Experiments are served at /pipelines/NAME too: a list without them hid the one meant.
      const names = [...this.snapshot.pipelines.keys()];
      const experiments = [...(this.snapshot.experiments?.keys() ?? [])];
      const also = experiments.length > 0 ? `; experiments: ${experiments.join(', ')}` : '';
      throw new AirmailError('PIPELINE_NOT_FOUND', `no pipeline named '${clip(name, PATH_CHARS)}' is loaded${didYouMean(name, [...names, ...experiments])} (loaded: ${names.join(', ') || 'none'}${also})`);
    }
    return p;
  }

  /**
   * Checks inputs against the pipeline's derived schema. Query values (text, one or more per name)
   * are first read as the types the schema names (engine/inputs.ts); the same schema then judges both.
   * `source`: where the inputs were written (a query string and `airmail run --input` hold text; a
   * body JSON or YAML), so that a refusal's hint says how to write the value there.
   */
  checkInputs(p: Pick<CompiledPipeline, 'name' | 'inputSchema'>, inputs: unknown, source: ValueSource, what: 'pipeline' | 'experiment' = 'pipeline'): Record<string, unknown> {
    let fn = this.inputValidators.get(p);
    if (!fn) {
      fn = strictAjv.compile(p.inputSchema as object);
      this.inputValidators.set(p, fn);
    }
    const errors: Problem[] = [];
    let copy: unknown;
    const isObject = !!inputs && typeof inputs === 'object' && !Array.isArray(inputs);
    if ((source === 'query' || source === 'cli') && isObject) {
      const q = coerceQueryInputs(p.inputSchema, inputs as Record<string, string | readonly string[]>, source);
      errors.push(...q.problems);
      copy = q.inputs;
    } else copy = isObject ? nullsAsDefaults(p.inputSchema, Object.assign({}, inputs) as Record<string, unknown>) : inputs;
    if (!fn(copy)) errors.push(...withInputNames(p.inputSchema, describeErrors(fn.errors, source)));
    errors.push(...unrepresentableInputs(p.inputSchema, copy), ...instantInputProblems(p.inputSchema, copy));
    if (errors.length > 0) {
      throw new AirmailError('INPUT_INVALID', summarise(`inputs of ${what} '${p.name}' are invalid`, errors.map((e) => `${e.path || '/'} ${e.message}`)), { details: { errors } });
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
      this.releaseAdhoc();
    }
    return this.adhocDuty.run(() => this.compileAdhocMiss(doc, snap, key));
  }

  /**
   * Compiling runs on the main thread: a pipeline of 130,000 Static items (a 930 KB body) held it
   * 0.7 s. Compiles that are not cached may take at most a quarter of it (see DutyLimit); a few ms each, most never wait.
   */
  private readonly adhocDuty = new DutyLimit('compiling pipelines sent to POST /execute');

  private async compileAdhocMiss(doc: unknown, snap: Snapshot, key: string): Promise<CompiledPipeline> {
    const d = doc as ConfigFile;
    const diagnostics: Diagnostic[] = nonFiniteProblems(doc).map((p) => ({ code: p.code, pointer: p.pointer, message: p.message }));
    if (diagnostics.length > 0) {
      // Nothing else is checked: the schema would take Infinity for a number.
    } else if (!validateConfigFile(doc)) {
      for (const p of describeErrors(validateConfigFile.errors)) diagnostics.push({ code: 'CONFIG_INVALID', pointer: p.path, message: p.message });
    } else if (d.datasets || d.operator_paths) {
      diagnostics.push({ code: 'CONFIG_INVALID', pointer: d.datasets ? '/datasets' : '/operator_paths', message: 'a pipeline sent with a request may use loaded datasets and installed operators only; define datasets and operator folders in the configs directory' });
    } else if (!d.pipeline) {
      diagnostics.push({ code: 'CONFIG_INVALID', pointer: '/pipeline', message: "the body needs a 'pipeline:' to execute" });
    }
    const presets: Map<string, PresetConfig & { file?: string }> = new Map(snap.presets);
    if (diagnostics.length === 0) {
      for (const [k, v] of Object.entries(d.operators ?? {})) presets.set(k, v);
      // Sent over HTTP: no reserved names, no {env:}, remote sources only through presets from the configs directory.
      for (const p of [...reservedNameProblems(d), ...sealedProblems(d, snap.operators, presets)]) diagnostics.push({ code: p.code, pointer: p.pointer, message: p.message });
    }
    if (diagnostics.length > 0) throw new AirmailError('CONFIG_INVALID', summarise('the pipeline is invalid', diagnostics.map((x) => `${x.pointer} ${x.message}`)), { diagnostics });
    // The registry models it names stay loaded while it is cached (then the hub may release them);
    // what it named and did not get is not watched: a pipeline sent with a request is never retried.
    const lease = this.models?.lease({ watch: false });
    const r = await compilePipeline(d.pipeline!, '/pipeline', {
      operators: snap.operators,
      presets,
      contexts: snap.contexts,
      datasets: snap.datasets,
      datasetIds: snap.datasetIds,
      validators: paramValidators,
      ...(lease ? { models: lease } : {}),
      resolvePath: () => {
        throw new AirmailError('CONFIG_INVALID', 'a pipeline sent with a request cannot name files');
      },
    }, undefined).catch((err: unknown) => {
      const e = asAirmailError(err, 'CONFIG_INVALID');
      return { diagnostics: [{ code: e.code, message: e.message }] as Diagnostic[], pipeline: undefined };
    });
    const fb = r.pipeline ? adhocFallbackProblems(r.pipeline, snap) : [];
    if (fb.length > 0) Object.assign(r, { pipeline: undefined, diagnostics: fb });
    if (!r.pipeline) {
      lease?.release();
      const first = r.diagnostics[0];
      throw new AirmailError(first?.code ?? 'CONFIG_INVALID', summarise('the pipeline is invalid', r.diagnostics.map((x) => `${x.pointer ?? ''} ${x.message}`)), { diagnostics: r.diagnostics });
    }
    if (this.adhoc.size > 100) {
      const oldest = this.adhoc.keys().next().value as string;
      this.adhoc.delete(oldest);
      this.adhocLeases.get(oldest)?.release();
      this.adhocLeases.delete(oldest);
    }
    this.adhoc.set(key, r.pipeline);
    if (lease) { this.adhocLeases.get(key)?.release(); this.adhocLeases.set(key, lease); }
    this.adhocMade.add(r.pipeline);
    return r.pipeline;
  }
  private adhocSnap: Snapshot | undefined;
  /** Holds the registry models of each cached ad hoc pipeline (see ModelLease). */
  private readonly adhocLeases = new Map<string, ModelLease>();
  private releaseAdhoc(): void {
    const leases = [...this.adhocLeases.values()];
    this.adhocLeases.clear();
    for (const l of leases) l.release();
  }
  /** The deadline a run gets: the pipeline's own (or the server default), shortened by the request's. */
  /** A run's deadline outside any pipeline (a model prediction): the server's, which a request may only shorten. */
  serverDeadline(requested?: number): number {
    return Math.min(requested ?? Infinity, this.defaultDeadline);
  }

  deadlineFor(p: CompiledPipeline, requested?: number): number {
    const own = p.deadlineMs === undefined ? this.defaultDeadline : this.adhocMade.has(p) ? Math.min(p.deadlineMs, this.defaultDeadline) : p.deadlineMs;
    return Math.min(requested ?? Infinity, own);
  }

  /**
   * Run a pipeline; errors that belong in the body (empty, failing source) come back as a response, others throw.
   * A pipeline with a `fallback:` runs through runWithFallback (fallback.ts), which calls runOnce.
   */
  run(p: CompiledPipeline, inputs: Record<string, unknown>, opts: RunOptions = {}): Promise<PipelineResponse> {
    if (!p.fallback || opts.why !== undefined) return this.runOnce(p, inputs, opts);
    // Both runs see the same now, so a time window does not move between them.
    return runWithFallback(this, p, inputs, opts.now === undefined ? Object.assign({}, opts, { now: this.clock() }) : opts);
  }

  /** The engine's clock (epoch ms): a batch reads it once for all its elements. */
  clockNow(): number {
    return this.clock();
  }

  /** One run of one pipeline, no fallback. */
  async runOnce(p: CompiledPipeline, inputs: Record<string, unknown>, opts: RunOptions = {}): Promise<PipelineResponse> {
    const t0 = performance.now();
    const snap = opts.snapshot ?? this.snapshot;
    const deadline = opts.deadlineAt ?? Date.now() + this.deadlineFor(p, opts.deadlineMs);
    const obs = this.observe.begin(p, opts, this.adhocMade.has(p));
    const now = opts.now ?? this.clock();
    const out = await this.runner.run({ pipeline: p, snapshot: snap, inputs, deadline, now, trace: opts.debug === true, ...(opts.signal ? { signal: opts.signal } : {}), ...(obs?.spec ? { observe: obs.spec } : {}), ...(this.models ? { models: this.models.refs } : {}), ...(this.adhocMade.has(p) ? { adhoc: true } : {}) })
      .catch((err: unknown) => {
        // Whatever the cancelled run ended in (a deadline between steps, an aborted fetch), it is the client's leaving.
        if (opts.signal?.aborted) err = clientClosed(opts.signal, err);
        const observed = reportOf(err);
        this.observe.fail(obs, asAirmailError(err), observed);
        // A debug run that failed still shows the steps that ran (a failed source among them).
        if (opts.debug && observed?.debug && err !== null && typeof err === 'object') failedDebug.set(err, observed.debug.map(redactStep));
        throw err;
      });
    if (opts.signal?.aborted) {
      // An answer nobody will read (a source's error: true included) counts as the client's leaving, not as served.
      const gone = clientClosed(opts.signal, undefined);
      this.observe.fail(obs, gone, out.observed);
      throw gone;
    }
    const items = toItems(out.columns, out.length, p.plan.instants);
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
    // Debug steps show bound parameters: URLs lose their user info and query string (expanded {env:} values).
    if (res.debug) res.debug = { steps: res.debug.steps.map(redactStep) };
    return res;
  }
}

/** The error of a run whose client has gone: the signal's CLIENT_CLOSED reason (what the run threw is its cause). */
function clientClosed(signal: QueueSignal, cause: unknown): AirmailError {
  const r: unknown = signal.reason;
  if (r instanceof AirmailError && r.code === 'CLIENT_CLOSED') return r;
  return clientClosedError(cause);
}

const failedDebug = new WeakMap<object, readonly StepTrace[]>();

/** The debug steps of a `?debug` run that threw `err` (those that ran before it failed), for its error answer. */
export function debugStepsOf(err: unknown): readonly StepTrace[] | undefined {
  return err !== null && typeof err === 'object' ? failedDebug.get(err) : undefined;
}

/** Also rounds `ms` to 3 decimals, as took_ms. */
function redactStep(s: StepTrace): StepTrace {
  return Object.assign({}, s, { parameters: redactParams(s.parameters), ms: Math.round(s.ms * 1000) / 1000 });
}

export function toItems(columns: Readonly<Record<string, Column>>, length: number, instants?: readonly string[]): Record<string, unknown>[] {
  const names = Object.keys(columns);
  const items: Record<string, unknown>[] = new Array(length);
  for (let i = 0; i < length; i++) {
    const row: Record<string, unknown> = {};
    for (const n of names) row[n] = valueAt(columns[n]!, i);
    if (instants) for (const n of instants) if (typeof row[n] === 'number') row[n] = formatInstant(row[n] as number);
    items[i] = row;
  }
  return items;
}
