/**
 * Cheap pipelines run on the main thread. Handing a request to a worker costs
 * the main thread a structured clone each way and a wake-up, which is more
 * than a pipeline such as Static → Sort → Limit takes to run. A wrapper around
 * the pool, so the executor and the pool stay as they are:
 *
 * - only pipelines made of built-in operators (no custom code, which could
 *   loop forever where no watchdog can stop it) and no model scoring;
 * - only after workers have run the pipeline `probeRuns` times (64: the
 *   first runs of a fresh worker are not yet optimised), with a median of the
 *   recent ones under half the budget (first-use costs such as building an
 *   index stay in the workers);
 * - back to the pool for good (for that version) when one inline run takes
 *   more than fifty times the budget, two of the last four more than four
 *   times it, or the median of the last sixteen passes it (the first inline
 *   run, which builds this thread's dataset indexes, counts only past fifty
 *   times). A run's time is wall time, and under load it includes other
 *   requests' work between its awaits and the odd GC pause: one slow run says
 *   little, a slow median says the pipeline is not cheap.
 *
 * Requests for debug, why or traces run where they would have anyway: the
 * inline runner collects the same reports.
 */
import type { OperatorDefinition } from './api.js';
import type { CompiledPipeline } from './config/compile-pipeline.js';
import type { ExecOutput } from './execute.js';
import { InlineRunner, type PoolRunner, type RunRequest, type Runner } from './pool.js';

/** Operators never run inline: model scoring loads sessions and builds per-item tables on first use. */
const NEVER_INLINE = new Set(['ModelScore']);

interface InlineState {
  eligible: boolean;
  inline: boolean;
  runs: number;
  /** Inline run times after the first (ms): run k (k >= 2) at (k - 2) % RECENT. */
  recent: Float64Array;
}

const RECENT = 16;

/** Whether the inline runs so far say the pipeline is not cheap (see the header). */
function tooSlow(st: InlineState, ms: number, budgetMs: number): boolean {
  if (ms > 50 * budgetMs) return true;
  const n = Math.min(st.runs - 1, RECENT); // the first run is not in the ring
  if (n <= 0) return false;
  let slow = 0;
  for (let i = 0; i < Math.min(n, 4); i++) if (st.recent[(st.runs - 2 - i) % RECENT]! > 4 * budgetMs) slow++;
  if (slow >= 2) return true;
  if (n < 8) return false;
  // The median (sorted[n >> 1]) passes the budget when at least n - (n >> 1) runs do: no sort per run.
  let over = 0;
  for (let i = 0; i < n; i++) if (st.recent[i]! > budgetMs) over++;
  return over >= n - (n >> 1);
}

export class CheapInlineRunner implements Runner {
  private readonly states = new WeakMap<CompiledPipeline, InlineState>();
  private readonly inline: InlineRunner;
  /** Requests that ran on the main thread (for tests and metrics). */
  inlineRuns = 0;

  constructor(
    private readonly pool: PoolRunner,
    private readonly builtins: ReadonlyMap<string, OperatorDefinition>,
    /** Budget per request in ms; 0 turns inline runs off. */
    private readonly budgetMs: number,
    remote: ConstructorParameters<typeof InlineRunner>[0],
    private readonly probeRuns = 64,
    /** The clock that times inline runs (tests give one that says how long each run took). */
    private readonly now: () => number = () => performance.now(),
  ) {
    // Built-in operators only, each under the budget: none ignores its deadline, so no per-request guard timer.
    this.inline = new InlineRunner(remote, 0);
  }

  get threads(): number {
    return this.pool.threads;
  }

  private state(req: RunRequest): InlineState {
    let st = this.states.get(req.pipeline);
    if (!st) {
      const plan = req.pipeline.plan;
      const steps = [...plan.includes, ...plan.excludes, ...plan.pre, ...plan.scorers, ...plan.post];
      const eligible = this.budgetMs > 0 && steps.every((s) => !NEVER_INLINE.has(s.use) && req.snapshot.operators.get(s.use) === this.builtins.get(s.use));
      st = { eligible, inline: false, runs: 0, recent: new Float64Array(RECENT) };
      this.states.set(req.pipeline, st);
    }
    if (st.eligible && !st.inline) {
      const t = this.pool.execTime(req.pipeline);
      if (t && t.runs >= this.probeRuns) {
        st.inline = t.ms < this.budgetMs / 2;
        if (!st.inline) st.eligible = false;
      }
    }
    return st;
  }

  async run(req: RunRequest): Promise<ExecOutput> {
    const st = this.state(req);
    if (!st.inline) return this.pool.run(req);
    this.inlineRuns++;
    const t0 = this.now();
    try {
      return await this.inline.run(req);
    } finally {
      const ms = this.now() - t0;
      // The first inline run builds this thread's indexes (a one-off): only a runaway counts.
      if (st.runs++ > 0) st.recent[(st.runs - 2) % RECENT] = ms;
      if (tooSlow(st, ms, this.budgetMs)) {
        st.inline = false;
        st.eligible = false;
      }
    }
  }

  get workerFailures(): number {
    return this.pool.workerFailures;
  }

  killWorker(): boolean {
    return this.pool.killWorker();
  }

  /** Whether `p` runs on the main thread now. */
  runsInline(p: CompiledPipeline): boolean {
    return this.states.get(p)?.inline === true;
  }

  /** Pipelines that run inline do not queue for a worker: only pooled ones are shed. */
  shedding(p: CompiledPipeline): ReturnType<PoolRunner['shedding']> {
    return this.runsInline(p) ? undefined : this.pool.shedding(p);
  }

  stats(): ReturnType<Runner['stats']> {
    return this.pool.stats();
  }

  readyWorkers(): number {
    return this.pool.readyWorkers();
  }

  busyWorkers(): number {
    return this.pool.busyWorkers();
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
