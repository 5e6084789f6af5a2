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
 * - back to the pool for good (for that version) as soon as one inline run
 *   takes more than four times the budget, or their average passes it (the
 *   first inline run, which builds this thread's dataset indexes, only when
 *   it takes more than fifty times the budget).
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
  ms: number;
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
  ) {
    this.inline = new InlineRunner(remote);
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
      st = { eligible, inline: false, runs: 0, ms: 0 };
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
    const t0 = performance.now();
    try {
      return await this.inline.run(req);
    } finally {
      const ms = performance.now() - t0;
      // The first inline run builds this thread's indexes (a one-off): only a runaway counts.
      const first = st.runs++ === 0;
      if (!first) st.ms += (ms - st.ms) / Math.min(st.runs - 1, 32);
      if (ms > (first ? 50 : 4) * this.budgetMs || (st.runs > 8 && st.ms > this.budgetMs)) {
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
    return this.runsInline(p) ? undefined : this.pool.shedding();
  }

  stats(): ReturnType<Runner['stats']> {
    return this.pool.stats();
  }

  readyWorkers(): number {
    return this.pool.readyWorkers();
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
