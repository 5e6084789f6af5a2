/**
 * The worker boundary as one facade: a Runner executes a compiled pipeline,
 * either on a piscina pool (serving) or inline (CLI `run`). The pool has a
 * bounded queue; a full queue is OVERLOADED (503), never a growing backlog.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { OperatorDefinition } from './api.js';
import type { CompiledPipeline } from './config/compile-pipeline.js';
import type { Snapshot } from './config/load.js';
import { AirmailError, fromWire } from './errors.js';
import type { ExecEnv, ExecOutput } from './execute.js';
import { nativeBusy, nativeGuardBuffer } from './native-guard.js';
import { CompletionPace } from './pace.js';
import { SlotQueue, type QueueSignal } from './slot-queue.js';
import { Bulkheads, type BulkheadGroup } from './bulkhead.js';
import { FetchSlots } from './fetch-slots.js';
import { loadModel } from './onnx.js';
import type { ModelTable } from './registry/bindings.js';
import type { Dataset, RemoteFetch } from './api.js';
import type { ExecReply, ExecTask, WorkerLoad } from './wire.js';
import { attachReport, executeObserved } from './observe/collect.js';
import type { ObserveReport, ObserveSpec } from './observe/types.js';
import { BusyWindow } from './observe/utilization.js';
import { inlineDeadline, StepMark, StepSlots, type StepAt } from './step-slots.js';
import { deadlineWatchdog, WatchdogSignal, workerLost } from './pool-watchdog.js';
import { CancelSlots } from './task-cancel.js';

export interface RunRequest {
  readonly pipeline: CompiledPipeline;
  readonly snapshot: Snapshot;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly deadline?: number;
  /** The request's now (epoch ms), read once when it arrived: time bounds resolve against it. */
  readonly now?: number;
  readonly trace?: boolean;
  /** Aborted when the request's client has gone: the task leaves the queue, or is cancelled in its worker (task-cancel.ts). */
  readonly signal?: QueueSignal;
  /** What to observe; the report comes back in `out.observed` (see observe/). */
  readonly observe?: ObserveSpec;
  /** Registry bindings → models, taken when the request started. */
  readonly models?: ModelTable;
  /** Sent with the request (/execute): all such share one bulkhead, at the server's share. */
  readonly adhoc?: boolean;
}

/**
 * An overload refusal before any error is built: what the early 503 writes as it is (server.ts),
 * and what `overloadedError` turns into an AirmailError for a request refused later.
 */
export interface Shed {
  readonly code: 'OVERLOADED';
  readonly message: string;
  /** About the time the queue ahead takes to drain (10 ms to 5 s). */
  readonly details: { readonly retryAfterMs: number; /** Set when a pipeline's own bulkhead share refused it (bulkhead.ts). */ readonly bulkhead?: string };
}

export const overloadedError = (s: Shed): AirmailError => AirmailError.withoutStack(s.code, s.message, { details: s.details });

export interface Runner {
  run(req: RunRequest): Promise<ExecOutput>;
  readonly threads: number;
  /** The refusal a request for `p` arriving now would get (absent: never sheds). */
  shedding?(p: CompiledPipeline): Shed | undefined;
  stats(): { threads: number; queued: number; running: number; utilization: number };
  /** Workers that finished starting and can take a task (absent: always able to run). */
  readyWorkers?(): number;
  close(): Promise<void>;
}

export class InlineRunner implements Runner {
  readonly threads = 0;
  /** Remote sources, answered in this thread (see engine/remote). */
  /**
   * `graceMs`: how long past the deadline an inline run's answer is still taken (the pool's watchdog
   * grace); 0 sets no such guard (cheap runs of built-in operators, which stop at their deadline).
   */
  constructor(private readonly remote?: ExecEnv['remote'], private readonly graceMs = 250) {}
  async run(req: RunRequest): Promise<ExecOutput> {
    const mark = req.deadline && this.graceMs > 0 ? new StepMark() : undefined;
    const signal = req.signal && abortSignalOf(req.signal);
    const running = executeObserved(req.observe, req.pipeline.plan, { datasets: req.snapshot.datasets, operators: req.snapshot.operators, model: loadModel, ...(this.remote ? { remote: this.remote } : {}) }, req.inputs, {
      ...(signal ? { signal } : {}),
      ...(req.deadline ? { deadline: req.deadline } : {}),
      ...(req.now !== undefined ? { now: req.now } : {}),
      trace: req.trace === true,
      ...(req.models ? { models: req.models } : {}),
      ...(mark ? { onStep: mark.enter } : {}),
    });
    return mark ? inlineDeadline(running, req.deadline!, this.graceMs, mark) : running;
  }
  stats(): { threads: number; queued: number; running: number; utilization: number } {
    return { threads: 0, queued: 0, running: 0, utilization: 0 };
  }
  async close(): Promise<void> {}
}

const goneError = (s: QueueSignal): AirmailError => (s.reason instanceof AirmailError ? s.reason : new AirmailError('CLIENT_CLOSED', 'the request was cancelled before it finished'));

/** An AbortSignal that follows `s` (an inline run's operators take a real one). */
function abortSignalOf(s: QueueSignal): AbortSignal {
  if (s instanceof AbortSignal) return s;
  const c = new AbortController();
  if (s.aborted) c.abort(s.reason);
  else s.addEventListener('abort', () => c.abort(s.reason), { once: true });
  return c.signal;
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
  /** Old-generation heap limit of each worker in MiB: a runaway operator kills its worker, not the process (default 1024). */
  readonly workerHeapMb?: number;
  /**
   * Young-generation size of each worker in MiB (default 12, AIRMAIL_WORKER_YOUNG_MB). V8's own
   * default for a 1 GiB heap is several times larger; on the standard workload, under load, 12 held
   * the server's RSS about 85 MB lower (470 vs 555 MB with two workers) and served as fast or faster
   * (interleaved runs: 736 vs 613 and 637 vs 580 req/s): a request's garbage dies young either way.
   */
  readonly workerYoungMb?: number;
  /** How long past a request's deadline a worker may keep running before it is stopped (default 250 ms). */
  readonly watchdogGraceMs?: number;
  /**
   * Load shedding by time, not only by length: a task whose estimated wait (queue ahead × mean
   * task time ÷ threads) exceeds this is OVERLOADED at once (default 1000 ms). Set it near the
   * p99 you promise, so that under overload accepted requests keep it and the rest fail fast.
   */
  readonly maxQueueWaitMs?: number;
  /** Workers one pipeline may hold, unless its `max_workers` says otherwise (default: see bulkhead.ts). */
  readonly maxWorkersPerPipeline?: number;
}

const IS_TS = import.meta.url.endsWith('.ts');

function youngMbFromEnv(): number {
  const mb = Number(process.env['AIRMAIL_WORKER_YOUNG_MB'] ?? 12);
  return Number.isFinite(mb) && mb >= 1 ? mb : 12;
}
/**
 * Piscina options that cut what each task costs the main thread, which runs every request's HTTP
 * and hand-off while the workers run the pipelines (on many cores it is the ceiling):
 * - `recordTiming: false`: no run-time and wait-time histograms per task (nothing reads them; the
 *   queue-wait estimate keeps its own, see expectedWaitMs).
 * - the worker's file is given as a path: piscina turns a file URL into a path at every task.
 * Tried and not kept: `atomics: 'disabled'` (no futex wake-up per task, about 15 µs of the main
 * thread's time a request) left requests hanging until their watchdog when workers were killed
 * under load (test/reliability-chaos.test.ts).
 */
export const HAND_OFF = { recordTiming: false } as const;

/** How often a task whose worker was stopped on purpose (killWorker) runs again. */
const MAX_KILLED_RETRIES = 4;

/** Runs the queue-wait estimate looks back on. */
const RECENT_EXEC = 32;

export class PoolRunner implements Runner {
  readonly threads: number;
  private readonly pool: Piscina;
  private readonly loads = new WeakMap<CompiledPipeline, WorkerLoad>();
  private readonly graceMs: number;
  private readonly maxQueueWaitMs: number;
  /** Tasks waiting for a worker, in arrival order (piscina's own queue is not: see slot-queue.ts). */
  private readonly queue: SlotQueue;
  private readonly maxQueue: number;
  /** Workers lost to a crash, exit or watchdog stop (each was replaced). */
  workerFailures = 0;
  /** Pipeline versions sent to workers (each a worker's `need`), and the dataset handles they carried. */
  loadsSent = 0;
  handlesSent = 0;
  /** Time workers spent on tasks over the last 10 s (`stats().utilization`); one task per worker at a time. */
  private readonly busy = new BusyWindow();
  /** The step each task handed to piscina is in (one slot per worker: at most that many are). */
  private readonly steps: StepSlots;
  private readonly freeSlots: number[];
  /** Tasks cancelled in their worker because their client has gone (task-cancel.ts). */
  private readonly cancels: CancelSlots;
  private readonly cancelTask = (slot: number): void => this.cancels.cancel(slot);
  /** Per-pipeline shares of the workers (bulkhead.ts), and since when each slot's task waits on a remote fetch (fetch-slots.ts). */
  private readonly bulkheads: Bulkheads;
  private readonly fetches: FetchSlots;

  constructor(opts: PoolOptions) {
    this.threads = Math.max(1, opts.threads ?? availableParallelism());
    this.pace = new CompletionPace(this.threads);
    this.graceMs = opts.watchdogGraceMs ?? 250;
    this.maxQueueWaitMs = opts.maxQueueWaitMs ?? 1000;
    this.queue = new SlotQueue(this.threads);
    this.steps = new StepSlots(this.threads);
    this.cancels = new CancelSlots(this.threads);
    this.freeSlots = Array.from({ length: this.threads }, (_, i) => this.threads - 1 - i);
    this.maxQueue = opts.maxQueue ?? this.threads * 64;
    this.fetches = new FetchSlots(this.threads);
    this.bulkheads = new Bulkheads(this.threads, opts.maxWorkersPerPipeline, this.fetches);
    const common = {
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
      resourceLimits: { maxOldGenerationSizeMb: opts.workerHeapMb ?? 1024, maxYoungGenerationSizeMb: opts.workerYoungMb ?? youngMbFromEnv() },
      // The main thread's share of each hand-off (the ceiling of a many-core server: see HAND_OFF).
      ...HAND_OFF,
    };
    const workerData = { operatorModules: [...opts.operatorModules], nativeGuard: this.nativeBuf, stepSlots: this.steps.buffer, fetchSlots: this.fetches.buffer, cancelSlots: this.cancels.buffer, cancelChannel: this.cancels.channel, ...(opts.remoteChannel ? { remoteChannel: opts.remoteChannel } : {}) };
    this.pool = IS_TS
      ? new Piscina({ ...common, filename: fileURLToPath(new URL('./workers/ts-bootstrap.mjs', import.meta.url)), workerData: { ...workerData, tsWorker: new URL('./workers/exec-worker.ts', import.meta.url).href } })
      : new Piscina({ ...common, filename: fileURLToPath(new URL('./workers/exec-worker.js', import.meta.url)), workerData });
    this.pool.on('workerCreate', (w: { id: number; currentUsage: number }) => this.ready.set(w.id, w));
    this.pool.on('workerDestroy', (w: { id: number }) => this.ready.delete(w.id));
    // A worker that dies with no task (e.g. a timer an operator left behind throws) must not take the process down.
    this.pool.on('error', (err: unknown) => {
      this.workerFailures++;
      process.emitWarning(`a pool worker failed outside a task and was replaced: ${(err as Error)?.message ?? String(err)}`, { code: 'AIRMAIL_WORKER_FAILED' });
    });
  }

  /** The load of a version for a worker that holds the datasets `has` (their handles are left out: see WorkerLoad). */
  private loadFor(p: CompiledPipeline, s: Snapshot, has: readonly string[] | undefined): WorkerLoad {
    let l = this.loads.get(p);
    if (!l) {
      const datasets = [...s.datasets.values()].map((t) => ({ id: `${t.name}:${datasetIdentity(t)}`, name: t.name, handle: t.handle }));
      l = { plan: p.plan, datasets, operatorModules: s.operatorModules };
      this.loads.set(p, l);
    }
    const held = new Set(has);
    const out = held.size === 0 ? l : { ...l, datasets: l.datasets.map((d) => (held.has(d.id) ? { id: d.id, name: d.name } : d)) };
    this.loadsSent++;
    this.handlesSent += out.datasets.filter((d) => d.handle).length;
    return out;
  }

  async run(req: RunRequest): Promise<ExecOutput> {
    const asked = performance.now();
    const base: ExecTask = {
      version: req.pipeline.version,
      inputs: req.inputs,
      ...(req.deadline ? { deadline: req.deadline } : {}),
      ...(req.now !== undefined ? { now: req.now } : {}),
      ...(req.trace ? { trace: true } : {}),
      ...(req.observe ? { observe: req.observe } : {}),
      ...(req.models ? { models: req.models } : {}),
      slot: -1,
    };
    // The watchdog: past the deadline (plus a grace for the worker to stop by itself) the task
    // leaves the queue, or its worker is stopped (a runaway operator) and replaced by piscina.
    const watchdog = req.deadline ? deadlineWatchdog(req.deadline, this.graceMs, req.signal, () => this.anyInNative(), (slot) => this.steps.at(slot, req.pipeline.plan), this.cancelTask) : undefined;
    const signal = watchdog?.signal ?? req.signal;
    const group = this.group(req.pipeline, req.adhoc === true);
    try {
      // Admission is judged once, when the request first asks for the pool. The pipeline's load
      // (asked for by a worker that had not seen this version) and a retry after a stopped worker
      // are the same admitted request: shedding them would drop a request that already waited its
      // turn, because the queue or the pace moved meanwhile (as when a cold upstream slowed it).
      const attempt = async (admitted: boolean): Promise<ExecReply> => {
        let reply = await this.submit(base, signal, admitted, req.pipeline, group);
        // The load may reach another worker than the one that answered `need`, one that lacks a
        // dataset left out: it answers `need` again with its own; the last try sends every handle.
        for (let i = 0; reply.kind === 'need' && i < 3; i++) {
          // A client that went away meanwhile: its task is not sent again (its cancel was of the slot it left).
          if (req.signal?.aborted) throw goneError(req.signal);
          reply = await this.submit({ ...base, load: this.loadFor(req.pipeline, req.snapshot, i < 2 ? reply.has : undefined) }, signal, true, req.pipeline, group);
        }
        return reply;
      };
      // A task whose worker we stopped on purpose (killWorker) runs again on another worker, up to
      // MAX_KILLED_RETRIES times within its deadline: under chaos the retry lands on the fresh
      // worker, which is busy loading the pipeline when the next kill picks a busy worker. A task
      // that brings its own worker down (exit, out of heap) fails alone with WORKER_FAILED.
      let reply: ExecReply | undefined;
      for (let tries = 0; !reply; tries++) {
        try {
          reply = await attempt(tries > 0);
        } catch (err) {
          if ((err as AirmailError).code !== 'WORKER_FAILED' || (err as AirmailError).details?.['retryable'] !== true || tries >= MAX_KILLED_RETRIES) throw err;
          if (signal?.aborted) throw signal.reason instanceof AirmailError ? signal.reason : err;
          if (req.signal?.aborted) throw goneError(req.signal);
        }
      }
      // What the request waited for a worker (queue, pipeline load, transfers): the time here less its run's.
      const queueMs = reply.kind === 'need' || reply.ms === undefined ? undefined : Math.max(0, performance.now() - asked - reply.ms);
      if (reply.kind === 'error') throw attachReport(fromWire(reply.error), withQueueMs(reply.observed, queueMs));
      if (reply.kind === 'need') throw new AirmailError('INTERNAL', 'worker did not accept the pipeline');
      if (queueMs !== undefined) Object.assign(reply.out, { observed: withQueueMs(reply.out.observed, queueMs) });
      if (reply.ms !== undefined) this.noteExecMs(req.pipeline, reply.ms);
      this.pace.note(performance.now(), this.queued() > 0);
      return reply.out;
    } finally {
      watchdog?.dispose();
    }
  }

  /** The bulkhead of `p` (bulkhead.ts); pipelines sent with a request share one, named like no loaded pipeline can be. */
  private group(p: CompiledPipeline, adhoc: boolean): BulkheadGroup {
    return adhoc ? this.bulkheads.group('/execute', undefined) : this.bulkheads.group(p.name, p.maxWorkers);
  }

  shedding(p?: CompiledPipeline, group = p && this.group(p, false)): Shed | undefined {
    const own = group && this.bulkheads.shed(group, p && this.execTime(p)?.ms, this.maxQueueWaitMs, Math.max(1, this.maxQueue >> 2));
    if (own) return own;
    const queued = this.queued();
    if (queued >= this.maxQueue) return this.overloaded(`the worker queue is full (${queued} waiting)`);
    if (queued > 0 && this.pool.completed >= 10) {
      const wait = this.expectedWaitMs();
      if (wait > this.maxQueueWaitMs) return this.overloaded(`the expected queue wait (${Math.round(wait)} ms, ${queued} waiting) exceeds the limit of ${this.maxQueueWaitMs} ms`);
    }
    return undefined;
  }

  /**
   * Tasks waiting for a worker that may start (a pipeline at its share waits for its own tasks, not
   * ahead of others: bulkhead.ts), and the odd one piscina holds while a worker starts.
   */
  private queued(): number {
    return (this.queue.length === 0 ? 0 : this.queue.ready) + this.pool.queueSize;
  }

  private async submit(task: ExecTask, signal: QueueSignal | undefined, admitted: boolean, p: CompiledPipeline, group: BulkheadGroup): Promise<ExecReply> {
    const shed = admitted ? undefined : this.shedding(p, group);
    if (shed) throw overloadedError(shed);
    /** The step a worker that died under the task was in. */
    let lostIn: StepAt | undefined;
    try {
      // One task per worker goes to piscina (so its own queue limit is never met); the rest wait here
      // in order. An admitted task (the pipeline's load, a retry) already waited its turn and goes
      // ahead. A wait that aborts ends in a QueueAbortError, named AbortError as piscina's are.
      await this.queue.acquire(signal, admitted, group);
      const t0 = this.busy.begin();
      // The queue lets at most `threads` tasks past, so a slot is free.
      const slot = this.freeSlots.pop()!;
      task.slot = slot;
      group.runsIn(slot);
      this.cancels.begin(slot);
      if (signal instanceof WatchdogSignal) signal.slot = slot;
      try {
        const reply = (await this.pool.run(task, signal ? { signal } : {})) as ExecReply;
        // Learnt before its slot goes on (finally): else the next task of its pipeline passed its share.
        if (reply.kind !== 'need') this.bulkheads.note(group, reply.waitMs ?? 0, reply.ms);
        return reply;
      } catch (err) {
        lostIn = this.steps.at(slot, p.plan);
        throw err;
      } finally {
        if (signal instanceof WatchdogSignal) signal.slot = -1;
        this.steps.clear(slot);
        this.fetches.clear(slot);
        this.freeSlots.push(slot);
        this.busy.end(t0);
        group.done(slot);
        this.queue.release();
      }
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      if ((err as Error).name === 'AbortError') {
        const reason: unknown = signal?.reason;
        if (reason instanceof AirmailError) throw reason;
        throw new AirmailError('DEADLINE_EXCEEDED', 'the request was aborted before it finished');
      }
      this.workerFailures++;
      const lost = workerLost(err, lostIn);
      // Worker.terminate() (killWorker) is the only way a worker exits with code 1: the worker
      // remaps an operator's process.exit(1) (workers/exec-worker.ts). Such a task runs again
      // elsewhere; one that brought its own worker down (exit, out of heap) must not be retried.
      if (/exited with code: 1$/.test(msg)) {
        throw new AirmailError('WORKER_FAILED', lost.message, { cause: err, details: { retryable: true } });
      }
      throw lost;
    }
  }

  /** Per pipeline version: runs seen and the last 16 times workers spent executing it. */
  private readonly execTimes = new WeakMap<CompiledPipeline, { runs: number; last: Float64Array; median?: { readonly runs: number; readonly ms: number } }>();
  private noteExecMs(p: CompiledPipeline, ms: number): void {
    let t = this.execTimes.get(p);
    if (!t) this.execTimes.set(p, (t = { runs: 0, last: new Float64Array(16) }));
    t.last[t.runs++ % 16] = ms;
    t.median = undefined;
    this.recentExec[this.recentRuns++ % RECENT_EXEC] = ms;
  }
  /** The last RECENT_EXEC execution times of any pipeline, as the workers measured them (for the queue-wait estimate). */
  private readonly recentExec = new Float64Array(RECENT_EXEC);
  private recentRuns = 0;
  /** Runs seen and the median of the recent execution times of `p` (a worker's first run, which builds indexes, does not move it). */
  execTime(p: CompiledPipeline): { readonly runs: number; readonly ms: number } | undefined {
    const t = this.execTimes.get(p);
    if (!t) return undefined;
    // Asked up to twice per request (the early shed and the submit) and changed once: sorted once per change.
    if (t.median) return t.median;
    const recent = t.last.slice(0, Math.min(t.runs, 16)).sort();
    return (t.median = { runs: t.runs, ms: recent[recent.length >> 1]! });
  }

  /** How long a task queued now would wait: the queue ahead × what each task in it costs the pool. */
  private expectedWaitMs(): number {
    // Per task: the pace of the saturated pool over the last second when there are enough
    // completions to measure it (engine/pace.ts), else the median of the recent runs as the
    // workers timed them ÷ threads. Not piscina's run-time histogram: it covers every run since
    // start (slow cold runs kept shedding the traffic that would have replaced them). Recomputed
    // at most every 100 ms.
    const now = performance.now();
    if (now - this.perTaskAt > 100) {
      const n = Math.min(this.recentRuns, RECENT_EXEC);
      const median = n < 8 ? 10 : this.recentExec.slice(0, n).sort()[n >> 1]!;
      this.perTaskMs = this.pace.perTaskMs(now) ?? median / this.threads;
      this.perTaskAt = now;
    }
    return (this.queued() + 1) * this.perTaskMs;
  }

  /** The pace of the saturated pool (engine/pace.ts). */
  private readonly pace: CompletionPace;
  private perTaskMs = 10;
  private perTaskAt = -Infinity;

  /** `message` names the cause: the queue's length limit, or its expected wait over maxQueueWaitMs. */
  private overloaded(message: string): Shed {
    const retryAfterMs = Math.min(5000, Math.max(10, Math.ceil(this.expectedWaitMs())));
    return { code: 'OVERLOADED', message, details: { retryAfterMs } };
  }

  /**
   * Terminates one worker as a crash would (chaos runs, or recycling a worker that leaks native
   * memory); piscina starts its replacement, and a task it was running runs again elsewhere.
   */
  killWorker(): boolean {
    // Only a worker that finished starting: piscina stops replacing workers that die while starting.
    // And not one inside onnxruntime: stopping it there would abort the process (native-guard.ts).
    const ready = this.liveReady().filter((r) => !nativeBusy(this.native, r.id));
    const pick = ready.find((r) => r.currentUsage > 0) ?? ready[0];
    const w = pick && this.pool.threads.find((t) => t.threadId === pick.id);
    if (!w) return false;
    this.ready.delete(pick.id);
    void w.terminate();
    return true;
  }

  readyWorkers(): number {
    return this.liveReady().length;
  }

  /** Started workers running a task now (chaos and tests stop a busy one). */
  busyWorkers(): number {
    return this.liveReady().filter((r) => r.currentUsage > 0).length;
  }

  /** Started workers still alive: one that died by itself (exit, out of heap, stopped by the watchdog) gets no workerDestroy. */
  private liveReady(): { readonly id: number; readonly currentUsage: number }[] {
    const alive = new Set(this.pool.threads.map((t) => t.threadId));
    for (const id of this.ready.keys()) if (!alive.has(id)) this.ready.delete(id);
    return [...this.ready.values()];
  }
  private readonly ready = new Map<number, { readonly id: number; readonly currentUsage: number }>();
  /** Per worker thread: inside an onnxruntime call now (native-guard.ts). */
  private readonly nativeBuf = nativeGuardBuffer();
  private readonly native = new Int32Array(this.nativeBuf);
  /** Whether any live worker is inside an onnxruntime call (the watchdog waits for it to come out). */
  anyInNative(): boolean {
    return this.pool.threads.some((t) => nativeBusy(this.native, t.threadId));
  }

  stats(): { threads: number; queued: number; running: number; utilization: number } {
    return { threads: this.threads, queued: this.queue.length + this.pool.queueSize, running: this.pool.threads.length, utilization: this.busy.value(this.threads) };
  }

  async close(): Promise<void> {
    this.cancels.close();
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

/** The worker's report with the queue wait the pool measured (a report of its own when the worker sent none: a memo hit). */
function withQueueMs(observed: ObserveReport | undefined, queueMs: number | undefined): ObserveReport | undefined {
  if (queueMs === undefined) return observed;
  return observed ? Object.assign(observed, { queueMs }) : { queueMs };
}
