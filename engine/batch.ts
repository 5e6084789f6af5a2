/**
 * Batches: many requests of one pipeline in one call (POST /pipelines/{name}/batch), each element
 * checked and run exactly as a single request with those inputs (checkInputs, then Engine.run), so
 * its answer, its memo and remote-cache use and its metrics are a single request's. What a batch
 * adds is only how the elements are spread over the workers:
 *
 * - One version: the pipeline and the snapshot are taken once, at the start; a reload during the
 *   batch changes the next request, never the rest of this one.
 * - At most `concurrency` elements are in flight at once (the pool's threads, or the pipeline's
 *   `max_workers:` when smaller): the pool's queue is first come, first served, so a single request
 *   that arrives during a batch waits behind at most that many of its elements, never the whole
 *   batch, and the batch holds no more than its pipeline's bulkhead share (engine/bulkhead.ts).
 * - Overload: the batch is admitted or refused as a whole before it starts (the caller asks the
 *   runner). Once admitted, an element that finds the pool shedding waits for it to stop (the
 *   retry-after estimate, at most what is left of the deadline) rather than being refused: the
 *   batch yields to single requests instead of failing half-way.
 * - Deadline: one for the whole batch; each element also keeps the pipeline's own deadline from
 *   when it starts. An element not started when the batch's deadline passes is DEADLINE_EXCEEDED.
 * - A/B experiment: each element is a request of the experiment (runExperiment): its arm picked as
 *   a single request's is (same bucket, or the batch's forced arm), read from the batch's snapshot,
 *   counted per arm; the batch's lanes are the fewest any arm allows.
 * - A client that has gone away (a job's own timeout) starts no further element: a batch of 1,000
 *   against a slow upstream would otherwise keep its workers and the upstream busy for nobody, and
 *   the job's retry would double it.
 * - One now: time bounds (now-30d) resolve against one now for every element (x-airmail-now, or read
 *   once at the start).
 * - A bounded answer: once the elements answered hold MAX_BATCH_ITEMS items, no further element is
 *   started (each is a 413 BATCH_TOO_LARGE entry). An element may answer every row of its dataset
 *   (no Limit, or `n: $n` from the request), and 1,000 such answers held the main thread for 20 s,
 *   grew the process by gigabytes and ended in a 500 (the answer was past V8's largest string).
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { CompiledPipeline } from './config/compile-pipeline.js';
import type { Snapshot } from './config/load.js';
import type { CompiledExperiment } from './config/compile-experiment.js';
import { runExperiment } from './experiments.js';
import type { ValueSource } from './config/validators.js';
import type { Engine, PipelineResponse, RunOptions } from './engine.js';
import { AirmailError, asAirmailError } from './errors.js';
import type { ObserveRunOptions } from './observe/index.js';

/** The largest batch taken unless `--max-batch` says (AIRMAIL_MAX_BATCH). */
export const DEFAULT_MAX_BATCH = 1000;

/** The most items a batch's answer holds, all its entries together (see the file comment). */
export const MAX_BATCH_ITEMS = 1_000_000;

/** One element's outcome: the response a single request would get, or the error it would get. */
export type BatchOutcome = { readonly ok: PipelineResponse } | { readonly error: AirmailError; readonly tookMs: number };

/** What each element runs: one pipeline, or an A/B experiment (each element the arm it picks, or the one `forced`). */
export type BatchTarget =
  | { readonly pipeline: CompiledPipeline }
  | { readonly experiment: CompiledExperiment; readonly forced?: string | undefined };

export interface BatchRun {
  readonly target: BatchTarget;
  readonly snapshot: Snapshot;
  /** Each element's inputs as sent (an object; anything else is that element's INPUT_INVALID). */
  readonly elements: readonly unknown[];
  readonly source: ValueSource;
  /** How long the whole batch may take, from the call (ms). */
  readonly deadlineMs: number;
  /** Elements in flight at once (default: batchConcurrency). */
  readonly concurrency?: number;
  /** The batch's now for time bounds (x-airmail-now), one for every element; default: read once at the start. */
  readonly now?: number;
  /** Request id and trace context, given to every element's run. */
  readonly observe?: ObserveRunOptions;
  /**
   * Aborted when the client has gone away (closed the connection): no further element is started
   * (those in flight finish, as a single request does), since nobody will read their answers.
   */
  readonly signal?: AbortSignal;
  /** The most items the answer holds (default MAX_BATCH_ITEMS); elements not started once it is reached are not run. */
  readonly maxItems?: number;
}

/** The pipelines a batch may run: its pipeline, or the experiment's arms (the forced one) as the snapshot holds them. */
export function batchPipelines(engine: Engine, target: BatchTarget, snapshot: Snapshot): CompiledPipeline[] {
  if ('pipeline' in target) return [target.pipeline];
  const arms = target.forced !== undefined ? [target.forced] : target.experiment.arms.map((a) => a.pipeline);
  return arms.map((name) => snapshot.pipelines.get(name) ?? engine.pipeline(name));
}

/** Elements of a batch in flight at once: one per worker, within the pipeline's max_workers (the smallest of the arms', for an experiment). */
export function batchConcurrency(engine: Engine, ps: readonly CompiledPipeline[]): number {
  const threads = Math.max(1, engine.runner.threads);
  return Math.max(1, Math.min(threads, ...ps.map((q) => q.maxWorkers ?? threads)));
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Thrown by admission when the client has gone: that element is not run, nor counted. */
const GONE = Symbol('client gone');
const ms3 = (t0: number): number => Math.round((performance.now() - t0) * 1000) / 1000;

/** Runs every element; the outcomes come back in the elements' order. Never throws for an element. */
export async function runBatch(engine: Engine, b: BatchRun): Promise<BatchOutcome[]> {
  const t = b.target;
  // A refusal before a run counts under the name the request was sent to, as a single request's does.
  const label = 'pipeline' in t ? t.pipeline.name : t.experiment.name;
  const out: BatchOutcome[] = new Array(b.elements.length);
  const observe = b.observe ?? {};
  const deadline = Date.now() + b.deadlineMs;
  const now = b.now ?? engine.clockNow();
  const refuse = (i: number, t0: number, err: unknown): void => {
    const e = asAirmailError(err);
    // Counted as a single request's refusal is (a run that failed was counted by the engine already).
    engine.observe.rejected(label, e, { requestId: observe.requestId, traceparent: observe.traceparent, tracestate: observe.tracestate });
    out[i] = { error: e, tookMs: ms3(t0) };
  };
  // Admitted as a whole: while the pool sheds (single requests filled it), wait rather than fail.
  const admit = async (q: CompiledPipeline): Promise<RunOptions> => {
    for (;;) {
      if (b.signal?.aborted) throw GONE;
      const left = deadline - Date.now();
      if (left <= 0) throw notRun(b);
      const shed = engine.runner.shedding?.(q);
      if (!shed) break;
      await sleep(Math.max(1, Math.min(shed.details.retryAfterMs, left)));
    }
    return Object.assign({}, observe, { deadlineMs: Math.max(1, deadline - Date.now()), snapshot: b.snapshot, now });
  };
  const one = async (i: number): Promise<void> => {
    const t0 = performance.now();
    const el = b.elements[i];
    try {
      if (!isPlainObject(el)) throw notAnObject();
      if ('experiment' in t) {
        out[i] = { ok: await runExperiment(engine, t.experiment, el, b.source, t.forced, { snapshot: b.snapshot, now }, admit) };
      } else {
        const inputs = engine.checkInputs(t.pipeline, el, b.source);
        out[i] = { ok: await engine.run(t.pipeline, inputs, await admit(t.pipeline)) };
      }
    } catch (err) {
      if (err === GONE) gone(i);
      else refuse(i, t0, err);
    }
  };
  /** Not started: the client has gone (not counted: no request of it was served, nor will be read). */
  const gone = (i: number): void => {
    out[i] = { error: new AirmailError('DEADLINE_EXCEEDED', 'the client closed the connection before this element ran'), tookMs: 0 };
  };
  const maxItems = b.maxItems ?? MAX_BATCH_ITEMS;
  let items = 0;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < b.elements.length) {
      const i = next++;
      if (b.signal?.aborted) {
        gone(i);
        continue;
      }
      if (items >= maxItems) {
        out[i] = { error: tooManyItems(items, maxItems), tookMs: 0 };
        continue;
      }
      await one(i);
      const o = out[i];
      if (o && 'ok' in o) items += o.ok.items.length;
      // Let the event loop serve other requests between elements (a cheap pipeline runs inline).
      await yieldToLoop();
    }
  };
  const n = Math.min(b.elements.length, Math.max(1, b.concurrency ?? batchConcurrency(engine, batchPipelines(engine, t, b.snapshot))));
  await Promise.all(Array.from({ length: n }, lane));
  return out;
}

/** An element that is not an object of inputs: the 422 a single request's body `[1]` gets, worded for an element. */
function notAnObject(): AirmailError {
  return new AirmailError('INPUT_INVALID', 'each element of requests must be a JSON object of inputs', { details: { errors: [{ path: '', message: 'must be a JSON object of inputs' }] } });
}

function tooManyItems(items: number, max: number): AirmailError {
  return new AirmailError('BATCH_TOO_LARGE', `the batch's answer already holds ${items} items (at most ${max} in one answer): this element was not run; send it in another batch, or ask for fewer items per request`);
}

function notRun(b: BatchRun): AirmailError {
  return new AirmailError('DEADLINE_EXCEEDED', `the batch's deadline (${b.deadlineMs} ms for its ${b.elements.length} requests) passed before this element ran; send smaller batches or a longer x-airmail-deadline-ms`);
}
