/**
 * The worker boundary as one facade: a Runner executes a compiled pipeline,
 * either on a piscina pool (serving) or inline (CLI `run`). The pool has a
 * bounded queue; a full queue is OVERLOADED (503), never a growing backlog.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { OperatorDefinition } from './api.js';
import type { CompiledPipeline } from './config/compile-pipeline.js';
import type { Snapshot } from './config/load.js';
import { AirmailError, fromWire } from './errors.js';
import { execute, type ExecOutput } from './execute.js';
import { loadOnnxModel } from './onnx.js';
import type { Dataset, RemoteFetch } from './api.js';
import type { ExecReply, ExecTask, WorkerLoad } from './wire.js';

export interface RunRequest {
  readonly pipeline: CompiledPipeline;
  readonly snapshot: Snapshot;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly deadline?: number;
  readonly trace?: boolean;
  readonly signal?: AbortSignal;
}

export interface Runner {
  run(req: RunRequest): Promise<ExecOutput>;
  readonly threads: number;
  stats(): { threads: number; queued: number; running: number; utilization: number };
  close(): Promise<void>;
}

export class InlineRunner implements Runner {
  readonly threads = 0;
  /** Remote sources, answered in this thread (see engine/remote). */
  constructor(private readonly remote?: (f: RemoteFetch, signal: AbortSignal) => Promise<Dataset>) {}
  async run(req: RunRequest): Promise<ExecOutput> {
    const signal = req.signal ?? (req.deadline ? AbortSignal.timeout(Math.max(1, req.deadline - Date.now())) : undefined);
    return execute(req.pipeline.plan, { datasets: req.snapshot.datasets, operators: req.snapshot.operators, model: loadOnnxModel, ...(this.remote ? { remote: this.remote } : {}) }, req.inputs, {
      ...(signal ? { signal } : {}),
      trace: req.trace === true,
    });
  }
  stats(): { threads: number; queued: number; running: number; utilization: number } {
    return { threads: 0, queued: 0, running: 0, utilization: 0 };
  }
  async close(): Promise<void> {}
}

export interface PoolOptions {
  /** Worker threads (default: the number of cores). */
  readonly threads?: number;
  /** Tasks that may wait for a worker (default 64 per thread). */
  readonly maxQueue?: number;
  /** BroadcastChannel of the engine's remote broker (engine/remote/broker.ts); workers ask it for remote tables. */
  readonly remoteChannel?: string;
  /** Modules that define the built-in operators, imported by every worker. */
  readonly operatorModules: readonly string[];
}

const IS_TS = import.meta.url.endsWith('.ts');

export class PoolRunner implements Runner {
  readonly threads: number;
  private readonly pool: Piscina;
  private readonly loads = new WeakMap<CompiledPipeline, WorkerLoad>();

  constructor(opts: PoolOptions) {
    this.threads = Math.max(1, opts.threads ?? availableParallelism());
    const common = {
      minThreads: this.threads,
      maxThreads: this.threads,
      maxQueue: opts.maxQueue ?? this.threads * 64,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
    };
    const workerData = { operatorModules: [...opts.operatorModules], ...(opts.remoteChannel ? { remoteChannel: opts.remoteChannel } : {}) };
    this.pool = IS_TS
      ? new Piscina({ ...common, filename: new URL('./workers/ts-bootstrap.mjs', import.meta.url).href, workerData: { ...workerData, tsWorker: new URL('./workers/exec-worker.ts', import.meta.url).href } })
      : new Piscina({ ...common, filename: new URL('./workers/exec-worker.js', import.meta.url).href, workerData });
  }

  private loadFor(p: CompiledPipeline, s: Snapshot): WorkerLoad {
    let l = this.loads.get(p);
    if (!l) {
      const datasets = [...s.datasets.values()].map((t) => ({ id: `${t.name}@${p.version}:${datasetIdentity(t)}`, handle: t.handle }));
      l = { plan: p.plan, datasets, operatorModules: s.operatorModules };
      this.loads.set(p, l);
    }
    return l;
  }

  async run(req: RunRequest): Promise<ExecOutput> {
    const base: ExecTask = {
      version: req.pipeline.version,
      inputs: req.inputs,
      ...(req.deadline ? { deadline: req.deadline } : {}),
      ...(req.trace ? { trace: true } : {}),
    };
    let reply = await this.submit(base, req.signal);
    if (reply.kind === 'need') reply = await this.submit({ ...base, load: this.loadFor(req.pipeline, req.snapshot) }, req.signal);
    if (reply.kind === 'error') throw fromWire(reply.error);
    if (reply.kind === 'need') throw new AirmailError('INTERNAL', 'worker did not accept the pipeline');
    return reply.out;
  }

  private async submit(task: ExecTask, signal: AbortSignal | undefined): Promise<ExecReply> {
    if (this.pool.queueSize >= this.pool.options.maxQueue) {
      throw new AirmailError('OVERLOADED', `the worker queue is full (${this.pool.queueSize} waiting)`);
    }
    try {
      return (await this.pool.run(task, signal ? { signal } : {})) as ExecReply;
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      if (/queue is at limit/i.test(msg)) throw new AirmailError('OVERLOADED', `the worker queue is full (${this.pool.queueSize} waiting)`);
      if ((err as Error).name === 'AbortError') throw new AirmailError('DEADLINE_EXCEEDED', 'the request was aborted before it finished');
      throw new AirmailError('INTERNAL', `worker failed: ${msg}`, { cause: err });
    }
  }

  stats(): { threads: number; queued: number; running: number; utilization: number } {
    return { threads: this.threads, queued: this.pool.queueSize, running: this.pool.threads.length, utilization: this.pool.utilization };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

const ids = new WeakMap<object, number>();
let nextId = 1;
function datasetIdentity(t: object): number {
  let id = ids.get(t);
  if (id === undefined) {
    id = nextId++;
    ids.set(t, id);
  }
  return id;
}

export function builtinModuleUrls(defsModule: string): string[] {
  return [defsModule];
}

export type { OperatorDefinition };
