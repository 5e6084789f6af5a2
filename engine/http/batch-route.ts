/**
 * POST /pipelines/{name}/batch: `{"requests": [inputs, ...]}` answered with one entry per element,
 * in order, each the answer a single POST /pipelines/{name} with those inputs gets (its `items`,
 * `error`, `reason`, `code`, ...) plus its `index` and the `status` the single request would have
 * had; the pipeline and its version are named once, for the whole batch (engine/batch.ts runs it).
 *
 * The batch as a whole is refused (one error answer, nothing run) only for what concerns all of it:
 * an unknown pipeline, a body that is no `{"requests": [...]}`, more than --max-batch elements
 * (413 BATCH_TOO_LARGE), the body limit (413 BODY_TOO_LARGE, before this route), a debug request
 * (debug is per request), or a pool that is shedding (503 OVERLOADED with Retry-After). A batch
 * that is run is a 200, whatever its elements answered: `failed` counts those that are not 200.
 */
import type { Context, Hono } from 'hono';
import type { PipelineResponse, Engine } from '../engine.js';
import { batchPipelines, DEFAULT_MAX_BATCH, runBatch, type BatchOutcome, type BatchTarget } from '../batch.js';
import type { CompiledExperiment } from '../config/compile-experiment.js';
import { ARM_HEADER, ARM_QUERY, errorTarget, servedForcedArm } from '../experiments.js';
import { AirmailError, asAirmailError, clip } from '../errors.js';
import { overloadedError } from '../pool.js';
import type { PublicPaths } from '../config/public-paths.js';
import { isPlainObject, readBody } from './body.js';
import { UNKNOWN_LABEL } from '../observe/index.js';
import { DEADLINE_HEADER, deadlineOption, NOW_HEADER, nowOption } from './deadline.js';
import { debugOption } from './debug-option.js';
import { errorBody, tookMs } from './app.js';
import { traceOptions } from './ui.js';

export const BATCH_PATH = '/pipelines/:name/batch';

export interface BatchRouteOptions {
  /** The most elements one batch may hold (default DEFAULT_MAX_BATCH). */
  readonly maxBatch?: number;
  readonly paths: PublicPaths;
  /** The app's error answer (counted, logged, sent). */
  readonly answerError: (c: Context, err: unknown, extra?: Partial<PipelineResponse>) => Response;
}

/**
 * An element's entry: its index, the status its single request would have had, and that answer less
 * the pipeline and version (named once for the batch). An experiment's entries keep them (each names
 * the arm that answered, as its single answer does) and its `experiment`; so does an answer of a
 * pipeline's fallback, which names the pipeline and version that answered.
 */
function entry(i: number, o: BatchOutcome, paths: PublicPaths, x: CompiledExperiment | undefined): Record<string, unknown> {
  if ('ok' in o) {
    if (x || o.ok.fallback) return { index: i, status: 200, ...o.ok };
    const { pipeline: _p, version: _v, ...rest } = o.ok;
    return Object.assign({ index: i, status: 200 }, rest);
  }
  const status = o.error.status === 200 ? 500 : o.error.status;
  if (x) return Object.assign({ index: i, status }, errorBody(o.error, { took_ms: o.tookMs, ...errorTarget(o.error, x) }, paths));
  const { pipeline: _p, version: _v, ...rest } = errorBody(o.error, { took_ms: o.tookMs }, paths);
  return Object.assign({ index: i, status }, rest);
}

/** A body of the wrong shape: an input error, so its `errors` entry is `{path, message}` as an input's is, `path` the JSON pointer of what is wrong. */
const batchShapeError = (path: string, message: string): AirmailError =>
  new AirmailError('INPUT_INVALID', message, { details: { errors: [{ path, message }] } });

/** The status a batch abandoned by its client counts under (NGINX's "client closed request"). */
export const CLIENT_GONE_STATUS = '499';

/**
 * Counts every batch in airmail_batch_requests_total by its answer's status: mounted before the
 * app's body limit, so that its 413 is counted too.
 */
export function countBatches(app: Hono, engine: Engine): void {
  app.use(BATCH_PATH, async (c, next) => {
    await next();
    const m = engine.observe.metrics;
    if (!m || c.req.method !== 'POST') return;
    const name = c.req.param('name') ?? '';
    // A batch whose client closed the connection before its answer counts as 499, as NGINX logs it: not a 200 nobody read.
    const status = c.req.raw.signal.aborted ? CLIENT_GONE_STATUS : String(c.res.status);
    m.batches.inc([engine.snapshot.pipelines.has(name) || engine.snapshot.experiments?.has(name) ? name : UNKNOWN_LABEL, status]);
  });
}

/** The route itself: mounted after the app's middleware (Hono runs handlers in the order they were added). */
export function mountBatchRoute(app: Hono, engine: Engine, opts: BatchRouteOptions): void {
  const max = opts.maxBatch ?? DEFAULT_MAX_BATCH;
  app.post(BATCH_PATH, async (c) => {
    const t0 = performance.now();
    const name = c.req.param('name');
    // One snapshot, and the pipeline (or the experiment and its arms) from it: the whole batch runs these versions.
    const snapshot = engine.snapshot;
    const x = snapshot.experiments?.get(name);
    const pipeline = x ? undefined : (snapshot.pipelines.get(name) ?? engine.pipeline(name));
    const p = x ?? pipeline!;
    const named = { pipeline: p.name, version: p.version };
    let target: BatchTarget | undefined;
    let pinned: { now?: number };
    let requests: unknown[];
    let format: Awaited<ReturnType<typeof readBody>>['format'];
    let deadlineMs: number;
    let trace: ReturnType<typeof traceOptions>;
    try {
      if (debugOption(c.req.queries('debug'), c.req.header('x-airmail-debug'))) {
        const how = c.req.queries('debug') !== undefined ? 'QUERY_INVALID' : 'HEADER_INVALID';
        throw new AirmailError(how, 'debug is per request: a batch does not take ?debug or x-airmail-debug; send the request you want to look at alone to POST /pipelines/{name}?debug=true');
      }
      // An experiment's elements may be forced to one arm (?arm=, x-airmail-arm), as a single request's.
      target = x ? { experiment: x, forced: servedForcedArm(engine, x, c.req.queries(ARM_QUERY), c.req.header(ARM_HEADER), true) } : { pipeline: pipeline! };
      const runs = batchPipelines(engine, target, snapshot);
      deadlineMs = deadlineOption(c.req.header(DEADLINE_HEADER)).deadlineMs ?? Math.max(...runs.map((q) => engine.deadlineFor(q)));
      trace = traceOptions(c);
      pinned = nowOption(c.req.header(NOW_HEADER));
      let value: unknown;
      ({ value, format } = await readBody(c, 'json'));
      if (!isPlainObject(value) || !Array.isArray(value['requests'])) throw batchShapeError(isPlainObject(value) ? '/requests' : '', 'the body must be {"requests": [inputs, ...]}: an object whose "requests" is a list of input objects');
      const extra = Object.keys(value).filter((k) => k !== 'requests');
      if (extra.length > 0) throw batchShapeError(`/${clip(extra[0]!, 80).replace(/~/g, '~0').replace(/\//g, '~1')}`, `the body takes only "requests"; unknown key ${JSON.stringify(clip(extra[0]!, 80))}`);
      requests = value['requests'];
      if (requests.length > max) throw new AirmailError('BATCH_TOO_LARGE', `the batch holds ${requests.length} requests; at most ${max} are taken in one (--max-batch): split it`);
      // Admitted or refused as a whole, before any element runs.
      const shed = runs.map((q) => engine.runner.shedding?.(q)).find((r) => r !== undefined);
      if (shed) throw overloadedError({ ...shed, message: `the batch was not started: ${shed.message}` });
    } catch (err) {
      return opts.answerError(c, asAirmailError(err), named);
    }
    const outcomes = await runBatch(engine, {
      target,
      snapshot,
      elements: requests,
      source: format,
      deadlineMs,
      observe: trace,
      ...pinned,
      signal: c.req.raw.signal,
    });
    const results = outcomes.map((o, i) => entry(i, o, opts.paths, x));
    const failed = results.reduce<number>((n, r) => n + ((r['status'] as number) >= 400 ? 1 : 0), 0);
    const took = tookMs(t0);
    const m = engine.observe.metrics;
    if (m) {
      m.batchSize.observe([p.name], requests.length);
      m.batchLatency.observe([p.name], took / 1000);
    }
    return c.json({ results, failed, pipeline: p.name, version: p.version, took_ms: took }, 200);
  });
}
