/**
 * A/B experiments between pipelines: a name resolved in front of a run. A request to an experiment
 * is checked against the inputs its arms take, its unit's value is hashed to a bucket, the arm that
 * owns the bucket runs as itself (counted under its own pipeline name too), and the answer says
 * which experiment and arm it came from. Assignment is a pure function of (salt, unit value), so it
 * is the same on every replica and after every restart, and a data scientist can redo it offline:
 *
 *   bucket = int(sha256(f"{salt}:{unit}").hexdigest()[:8], 16) % 10000
 *
 * where `unit` is the input's value as text (an integer as its digits, a string as itself), and the
 * arms own consecutive bucket ranges in their listed order (compile-experiment.ts armBuckets).
 */
import { createHash } from 'node:crypto';
import { AirmailError, asAirmailError, clip, ERRORS, type ErrorCode } from './errors.js';
import { ARM_QUERY, BUCKETS, type CompiledExperiment, type ExperimentArm } from './config/compile-experiment.js';
import type { Engine, PipelineResponse, RunOptions } from './engine.js';
import type { LoadedPipeline, Snapshot } from './config/load.js';
import type { ValueSource } from './config/validators.js';
import { Counter, Histogram, type EngineMetrics } from './observe/metrics.js';

export { ARM_QUERY, BUCKETS };

/** The header that forces an arm (QA), as `?arm=` does. */
export const ARM_HEADER = 'x-airmail-arm';

/** How the arm of a request was picked: by its unit's bucket, forced (?arm= / x-airmail-arm), or the `default:` arm (no unit). */
export type AssignmentKind = 'assigned' | 'forced' | 'default';

export interface ExperimentAnswer {
  readonly name: string;
  readonly arm: string;
  readonly assignment: AssignmentKind;
  /** The unit's bucket (0 to 9999); absent when the request had no unit. */
  readonly bucket?: number;
}

/** The unit's value as the text that is hashed: a number by its shortest JavaScript (and Python) spelling, a string as itself. */
export function unitText(v: unknown): string {
  return typeof v === 'string' ? v : String(v);
}

/** The README's formula: the first 8 hex digits of sha256("salt:unit") as an unsigned integer, modulo 10,000. */
export function bucketOf(salt: string, unit: unknown): number {
  const hex = createHash('sha256').update(`${salt}:${unitText(unit)}`, 'utf8').digest('hex').slice(0, 8);
  return parseInt(hex, 16) % BUCKETS;
}

export function armOf(x: CompiledExperiment, bucket: number): ExperimentArm {
  return x.arms.find((a) => bucket >= a.buckets[0] && bucket < a.buckets[1]) ?? x.arms[x.arms.length - 1]!;
}

/** The arm a request forces (`?arm=`, `x-airmail-arm`), or undefined; one that is no arm is a 400. */
export function forcedArm(x: CompiledExperiment, query: readonly string[] | undefined, header: string | undefined): string | undefined {
  const arms = x.arms.map((a) => a.pipeline);
  const check = (v: string, code: 'QUERY_INVALID' | 'HEADER_INVALID', where: string): string => {
    if (arms.includes(v)) return v;
    throw new AirmailError(code, `${where} must name an arm of experiment '${x.name}' (${arms.join(', ')}); got ${JSON.stringify(clip(v, 60))}`);
  };
  if (query !== undefined && query.length > 1) throw new AirmailError('QUERY_INVALID', `?${ARM_QUERY} is given ${query.length} times; name one arm`);
  const q = query?.[0] !== undefined ? check(query[0].trim(), 'QUERY_INVALID', `?${ARM_QUERY}`) : undefined;
  const h = header !== undefined ? check(header.trim(), 'HEADER_INVALID', ARM_HEADER) : undefined;
  if (q && h && q !== h) throw new AirmailError('HEADER_INVALID', `?${ARM_QUERY}=${q} and ${ARM_HEADER}: ${h} name different arms; send one`);
  return q ?? h;
}

/**
 * forcedArm for a served request: a refusal (a value that is no arm, or two that disagree) is
 * counted in airmail_experiment_requests_total as arm "" and assignment "forced" (never the
 * client's text as a label), so an on-call sees clients sending wrong arms. `counted`: false for
 * debug requests, which are not counted there.
 */
export function servedForcedArm(engine: Engine, x: CompiledExperiment, query: readonly string[] | undefined, header: string | undefined, counted: boolean): string | undefined {
  try {
    return forcedArm(x, query, header);
  } catch (err) {
    const m = engine.observe.metrics;
    if (m && counted) experimentMetrics(m).requests.inc([x.name, '', 'forced', String(asAirmailError(err).status)]);
    throw err;
  }
}

export interface Pick {
  readonly arm: LoadedPipeline;
  readonly inputs: Record<string, unknown>;
  readonly experiment: ExperimentAnswer;
}

/**
 * The arm of a request and its checked inputs. `raw`: the request's inputs as sent (query values, or
 * a body object); a query's `arm` is the forcing option, not an input. `snapshot`: where the arms are
 * read (a batch pins the one it started with; default the one served now).
 */
export function pickArm(engine: Engine, x: CompiledExperiment, raw: Readonly<Record<string, unknown>>, source: ValueSource, forced: string | undefined, snapshot?: Snapshot): Pick {
  const given: Record<string, unknown> = Object.assign(Object.create(null) as Record<string, unknown>, raw);
  if (source === 'query') delete given[ARM_QUERY];
  const unitGiven = given[x.unit] !== undefined && given[x.unit] !== null;
  const arm = (name: string): LoadedPipeline => snapshot?.pipelines.get(name) ?? engine.pipeline(name);
  if (!unitGiven && !forced) {
    if (x.default === undefined) {
      const message = `is required: experiment '${x.name}' picks its arm by it (its unit)`;
      throw new AirmailError('INPUT_INVALID', `inputs of experiment '${x.name}' are invalid: /${x.unit} ${message}`, { details: { errors: [{ path: `/${x.unit}`, message }] } });
    }
    const p = arm(x.default);
    return { arm: p, inputs: engine.checkInputs(p, given, source), experiment: { name: x.name, arm: p.name, assignment: 'default' } };
  }
  if (!unitGiven) {
    const p = arm(forced!);
    return { arm: p, inputs: engine.checkInputs(p, given, source), experiment: { name: x.name, arm: p.name, assignment: 'forced' } };
  }
  // Checked once as the experiment's inputs (so a refusal does not depend on the arm), typed, then hashed.
  const all = engine.checkInputs(x, given, source, 'experiment');
  const bucket = bucketOf(x.salt, all[x.unit]);
  const p = arm(forced ?? armOf(x, bucket).pipeline);
  const props = (p.inputSchema['properties'] ?? {}) as Record<string, unknown>;
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) if (Object.hasOwn(props, k)) own[k] = v;
  return { arm: p, inputs: engine.checkInputs(p, own, 'json'), experiment: { name: x.name, arm: p.name, assignment: forced ? 'forced' : 'assigned', bucket } };
}

/** Requests by experiment, arm and how the arm was picked; refusals before an arm was picked have arm "" (and assignment "none" unless forced). */
export interface ExperimentMetrics {
  readonly requests: Counter;
  readonly latency: Histogram;
  /** 200 answers with no items, by experiment, arm and assignment: an arm that empties a carousel is a 200 too. */
  readonly empty: Counter;
}

const LATENCY = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const made = new WeakMap<EngineMetrics, ExperimentMetrics>();

export function experimentMetrics(m: EngineMetrics): ExperimentMetrics {
  let e = made.get(m);
  if (!e) {
    e = {
      requests: m.registry.add(new Counter('airmail_experiment_requests_total', 'Requests to an A/B experiment by experiment, arm, assignment (assigned by the unit\'s bucket, forced by ?arm= or x-airmail-arm, default when the unit was missing) and HTTP status; a refusal before an arm was picked has arm "" (a forced arm that is none: assignment forced, status 400). Debug and why requests are not counted. Each arm\'s run also counts under its own pipeline in airmail_requests_total.', ['experiment', 'arm', 'assignment', 'status'])),
      latency: m.registry.add(new Histogram('airmail_experiment_request_duration_seconds', 'Latency of A/B experiment requests in seconds, by experiment, arm and assignment.', ['experiment', 'arm', 'assignment'], LATENCY)),
      empty: m.registry.add(new Counter('airmail_experiment_empty_answers_total', 'A/B experiment requests answered 200 with no items (after the arm\'s fallback, if any), by experiment, arm and assignment: divide by airmail_experiment_requests_total{status="200"} for each arm\'s empty rate.', ['experiment', 'arm', 'assignment'])),
    };
    made.set(m, e);
  }
  return e;
}

/** Series of experiments or arms no longer served go (an experiment ended, an arm removed). */
export function forgetExperimentSeries(m: EngineMetrics, served: ReadonlyMap<string, CompiledExperiment> | undefined): void {
  const e = made.get(m);
  if (!e) return;
  const keep = (labels: readonly string[]): boolean => {
    const x = served?.get(labels[0]!);
    return x !== undefined && (labels[1] === '' || x.arms.some((a) => a.pipeline === labels[1]));
  };
  e.requests.dropWhere((l) => !keep(l));
  e.latency.dropWhere((l) => !keep(l));
  e.empty.dropWhere((l) => !keep(l));
}

/**
 * Run an experiment for a request: pick the arm, run it, add `experiment` to its answer, count it.
 * An error names the arm's pipeline once one was picked (`pipeline` of the error body). The arms are
 * read from `opts.snapshot` when given (a batch's). `ready`, when given, is awaited once the arm is
 * picked and gives the run's options (a batch's element waits there while the pool sheds).
 */
export async function runExperiment(engine: Engine, x: CompiledExperiment, raw: Readonly<Record<string, unknown>>, source: ValueSource, forced: string | undefined, opts: RunOptions, ready?: (arm: LoadedPipeline) => Promise<RunOptions>): Promise<PipelineResponse & { experiment: ExperimentAnswer }> {
  const t0 = performance.now();
  const m = engine.observe.metrics && !opts.debug ? experimentMetrics(engine.observe.metrics) : undefined;
  let picked: Pick | undefined;
  const count = (status: number, items?: number): void => {
    if (!m) return;
    const arm = picked?.arm.name ?? '';
    // A run that ends after a reload took its experiment or arm away is not counted: its series
    // were dropped at that reload (forgetExperimentSeries), and counting would bring them back for good.
    const served = engine.snapshot.experiments?.get(x.name);
    if (!served || (arm !== '' && !served.arms.some((a) => a.pipeline === arm))) return;
    const how = picked?.experiment.assignment ?? (forced ? 'forced' : 'none');
    m.requests.inc([x.name, arm, how, String(status)]);
    if (picked) m.latency.observe([x.name, arm, how], (performance.now() - t0) / 1000);
    if (status === 200 && items === 0) m.empty.inc([x.name, arm, how]);
  };
  try {
    picked = pickArm(engine, x, raw, source, forced, opts.snapshot);
    const res = await engine.run(picked.arm, picked.inputs, ready ? await ready(picked.arm) : opts);
    count(res.error ? ERRORS[(res.code ?? 'SOURCE_FAILED') as ErrorCode]?.status ?? 200 : 200, res.items.length);
    return Object.assign(res, { experiment: picked.experiment });
  } catch (err) {
    const e = asAirmailError(err);
    count(e.status === 200 ? 500 : e.status);
    // An arm was picked: the error names it, and carries `experiment` as its 200 answers do.
    experimentOfError.set(e, picked ? { pipeline: picked.arm.name, version: picked.arm.version, experiment: picked.experiment } : { pipeline: x.name, version: x.version });
    throw e;
  }
}

/** What an experiment's error answer names: the arm and its `experiment` once one was picked, else the experiment itself. */
export interface ErrorTarget { pipeline: string; version: string; experiment?: ExperimentAnswer }
const experimentOfError = new WeakMap<object, ErrorTarget>();

/** What an experiment's error answer names: the arm that ran, else the experiment itself. */
export function errorTarget(err: unknown, x: CompiledExperiment): ErrorTarget {
  return (err !== null && typeof err === 'object' ? experimentOfError.get(err) : undefined) ?? { pipeline: x.name, version: x.version };
}

/** GET /pipelines/{experiment} and its entry in GET /pipelines. */
export function describeExperiment(x: CompiledExperiment, file: string): Record<string, unknown> {
  return {
    name: x.name,
    kind: 'experiment',
    description: x.description ?? null,
    version: x.version,
    file,
    unit: x.unit,
    salt: x.salt,
    buckets: BUCKETS,
    arms: x.arms.map((a) => ({ pipeline: a.pipeline, weight: a.weight, share: a.share, buckets: a.buckets })),
    default: x.default ?? null,
    item_type: x.itemType,
    inputs: x.inputSchema,
  };
}
