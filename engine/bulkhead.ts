/**
 * Bulkheads between pipelines on the worker pool. A worker runs one task at a
 * time, and a task whose source waits on a slow upstream (or a paused Redis)
 * holds its worker idle for as long as the fetch takes: measured on two
 * workers, an upstream answering in 300-800 ms at 50 req/s turned 1,752 of
 * 1,935 requests of an unrelated Lookup pipeline into 503s. So each pipeline
 * may hold at most a share of the workers:
 *
 * - `max_workers:` of the pipeline, or the server's `--max-workers-per-pipeline`:
 *   always enforced;
 * - otherwise half the threads (at least 1), enforced only while the
 *   pipeline's runs wait on remote sources (a moving average of its runs'
 *   remote wait over IO_BOUND_MS, or one of its running tasks that has waited
 *   on fetches for over WAITING_NOW_MS so far) and another pipeline wants a worker (one
 *   waits, or one started in the last CONTENDED_MS): a server of one
 *   pipeline, or of CPU-bound ones, uses every worker as before.
 *
 * The running tasks count because the average learns only from finished
 * runs: when an upstream turned slow (300-800 ms), no run finished for that
 * long, every worker took a slow run meanwhile, and an unrelated pipeline got
 * 503s from the pool-wide shed and a p99 of 0.4-0.6 s in that moment.
 *
 * A pipeline at its share waits for its own tasks to finish (other pipelines'
 * tasks go past it in the queue), and is refused at once, 503 OVERLOADED
 * naming it and the limit, when its expected wait passes the queue-wait limit.
 *
 * The expected wait is the age of its oldest running task (how long until a
 * slot frees, at most as long again) plus its waiters × what a run costs ÷ its
 * limit, a run's cost being the larger of the median of its recent runs and a
 * moving average of them (which follows an upstream that turned slow within a
 * few runs). Earlier it was (waiters + 1) × the oldest task's age ÷ limit: one
 * long run (a fresh worker loading the pipeline after a worker was stopped, a
 * Redis probe) was taken as the cost of every waiter, and a Redis-backed
 * pipeline was refused during a chaos run's Redis pause.
 */
import type { Shed } from './pool.js';
import type { FetchSlots } from './fetch-slots.js';
import type { QueueGroup } from './slot-queue.js';

/** A run that waited this long on remote sources (moving average) marks its pipeline as waiting on I/O. */
const IO_BOUND_MS = 20;
/**
 * A running task that has waited on fetches this long so far marks its pipeline as waiting on I/O. Less than
 * IO_BOUND_MS: a slow pipeline's next request comes within 20 ms at 50 req/s, and at 20 it took the
 * last free worker; a healthy Redis or local upstream answers in 1-3 ms.
 */
const WAITING_NOW_MS = 5;
/** Another pipeline that started a task this recently contends for the workers. */
const CONTENDED_MS = 1000;
/** Groups kept; idle ones beyond it are forgotten (pipeline names are bounded by the configs). */
const MAX_GROUPS = 1024;

export class BulkheadGroup implements QueueGroup {
  running = 0;
  waiting = 0;
  /** Moving average of the remote wait of its runs (ms). */
  waitAvg = 0;
  /** Moving average of its runs' time on their workers (ms). */
  runAvg = 0;
  /** Its running tasks: the pool slot each runs in → when it took it (performance.now()). */
  readonly runs = new Map<number, number>();
  constructor(readonly key: string, public limit: number, public explicit: boolean, private readonly owner: Bulkheads) {}
  /** Whether a task of this group may take a free worker now. */
  canStart(): boolean {
    return this.running < this.limit || !this.enforced();
  }
  enforced(): boolean {
    return this.explicit || ((this.waitAvg >= IO_BOUND_MS || this.waitingNowMs() >= WAITING_NOW_MS) && this.owner.othersActive(this));
  }
  /** The longest a running task of it has waited on remote fetches so far (0: none). */
  waitingNowMs(): number {
    let most = 0;
    if (this.runs.size === 0 || !this.owner.fetches) return most;
    const now = Date.now();
    for (const s of this.runs.keys()) most = Math.max(most, this.owner.fetches.waitingMs(s, now));
    return most;
  }
  /** Its task that took a worker runs in pool slot `slot`, since `at`. */
  runsIn(slot: number, at = performance.now()): void {
    this.runs.set(slot, at);
  }
  /** How long its oldest running task has run (0: none). */
  oldestMs(now: number): number {
    let first = now;
    for (const at of this.runs.values()) first = Math.min(first, at);
    return now - first;
  }
  enter(): void {
    this.waiting++;
    this.owner.totalWaiting++;
  }
  leave(): void {
    this.waiting--;
    this.owner.totalWaiting--;
  }
  take(): void {
    this.running++;
    this.owner.started(this, performance.now());
  }
  /** Its task finished; `slot`: the one it ran in. */
  done(slot?: number): void {
    this.running--;
    if (slot !== undefined) this.runs.delete(slot);
  }
}

export class Bulkheads {
  private readonly groups = new Map<string, BulkheadGroup>();
  /** Tasks of every group waiting for a worker. */
  totalWaiting = 0;
  /** The latest start, and the latest start of a group other than its own (contention in O(1)). */
  private last: { key: string; at: number } = { key: '', at: -Infinity };
  private otherAt = -Infinity;

  /**
   * `serverLimit`: `--max-workers-per-pipeline` (enforced always); else half the threads.
   * `fetches`: since when each pool slot's task waits on a remote fetch (absent: finished runs only).
   */
  constructor(private readonly threads: number, private readonly serverLimit?: number, readonly fetches?: FetchSlots) {}

  /** The group of pipeline `key`; `own`: its `max_workers`. Limits follow reloads. */
  group(key: string, own: number | undefined): BulkheadGroup {
    const explicit = own !== undefined || this.serverLimit !== undefined;
    const limit = Math.min(this.threads, own ?? this.serverLimit ?? Math.max(1, this.threads >> 1));
    let g = this.groups.get(key);
    if (!g) {
      if (this.groups.size >= MAX_GROUPS) for (const [k, old] of this.groups) if (old.running === 0 && old.waiting === 0) this.groups.delete(k);
      g = new BulkheadGroup(key, limit, explicit, this);
      this.groups.set(key, g);
    }
    g.limit = limit;
    g.explicit = explicit;
    return g;
  }

  othersActive(g: BulkheadGroup): boolean {
    if (this.totalWaiting > g.waiting) return true;
    const at = this.last.key === g.key ? this.otherAt : this.last.at;
    return performance.now() - at < CONTENDED_MS;
  }

  started(g: BulkheadGroup, at: number): void {
    if (this.last.key !== g.key) this.otherAt = this.last.at;
    this.last = { key: g.key, at };
  }
  /** A run of the group finished after waiting `waitMs` on remote sources, `runMs` on its worker in all. */
  note(g: BulkheadGroup, waitMs: number, runMs?: number): void {
    g.waitAvg = g.waitAvg * 0.7 + waitMs * 0.3;
    if (runMs !== undefined) g.runAvg = g.runAvg * 0.7 + runMs * 0.3;
  }

  /**
   * The refusal of a new task of `g`: at its share and enforced, when its expected wait (its oldest
   * running task's age, plus its queue ahead × the larger of its median run and its runs' moving
   * average ÷ its limit) passes `maxWaitMs`, or when `maxWaiting` of its tasks already wait.
   */
  shed(g: BulkheadGroup, medianMs: number | undefined, maxWaitMs: number, maxWaiting: number): Shed | undefined {
    if (g.running < g.limit || !g.enforced()) return undefined;
    const now = performance.now();
    const oldest = g.oldestMs(now);
    const wait = oldest + (g.waiting * Math.max(medianMs ?? 0, g.runAvg)) / g.limit;
    const why = g.explicit ? 'max_workers' : `${g.waitAvg >= IO_BOUND_MS ? `its runs wait on remote sources (${Math.round(g.waitAvg)} ms on average)` : `a run of it has waited ${Math.round(g.waitingNowMs())} ms on a remote source so far`}; set max_workers to change it`;
    const head = `pipeline '${g.key}' holds its limit of ${g.limit} of ${this.threads} worker(s) (${why}) and ${g.waiting} of its requests wait`;
    if (g.waiting >= maxWaiting) return overloaded(`${head}: no more may wait`, wait, g.key);
    if (wait > maxWaitMs) return overloaded(`${head}: the expected wait (${Math.round(wait)} ms) exceeds the limit of ${maxWaitMs} ms`, wait, g.key);
    return undefined;
  }
}

/** `bulkhead`: the pipeline whose own share refused it (its fallback may answer: engine/fallback.ts). */
function overloaded(message: string, waitMs: number, bulkhead: string): Shed {
  return { code: 'OVERLOADED', message, details: { retryAfterMs: Math.min(5000, Math.max(10, Math.ceil(waitMs))), bulkhead } };
}
