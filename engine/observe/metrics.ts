/**
 * Prometheus metrics, hand-written: counters, gauges and histograms keyed by
 * label values, rendered in the text exposition format (0.0.4). Recording is
 * a Map lookup and a few additions; nothing is formatted until a scrape.
 *
 * One process-wide registry (`metrics`): hooks such as `recordModelSwap` can
 * be called from anywhere (the model registry, caches) without plumbing.
 */

import { RecentWindow } from './recent.js';
import type { RemoteOutcome } from './types.js';

type Labels = readonly string[];

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function fmt(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

function labelText(names: Labels, values: Labels, extra?: [string, string]): string {
  const parts: string[] = [];
  for (let i = 0; i < names.length; i++) parts.push(`${names[i]}="${escapeLabel(values[i] ?? '')}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

abstract class Metric {
  constructor(readonly name: string, readonly help: string, readonly labelNames: Labels) {}
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  abstract samples(): string[];
  render(): string {
    const s = this.samples();
    if (s.length === 0) return '';
    return `# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${this.name} ${this.type}\n${s.join('\n')}\n`;
  }
}

const SEP = '\u0001';

export class Counter extends Metric {
  readonly type = 'counter';
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  inc(labels: Labels = [], by = 1): void {
    const k = labels.join(SEP);
    const e = this.values.get(k);
    if (e) e.value += by;
    else this.values.set(k, { labels: [...labels], value: by });
  }
  get(labels: Labels = []): number {
    return this.values.get(labels.join(SEP))?.value ?? 0;
  }
  /** Removes every series whose first label is `first`. */
  dropFirst(first: string): void {
    for (const [k, e] of this.values) if (e.labels[0] === first) this.values.delete(k);
  }
  /** Removes every series whose labels `drop` says. */
  dropWhere(drop: (labels: Labels) => boolean): void {
    for (const [k, e] of this.values) if (drop(e.labels)) this.values.delete(k);
  }
  entries(): { labels: Labels; value: number }[] {
    return [...this.values.values()];
  }
  samples(): string[] {
    return [...this.values.values()].map((e) => `${this.name}${labelText(this.labelNames, e.labels)} ${fmt(e.value)}`);
  }
}

/** A gauge; `collect` (when given) replaces the values at every scrape. */
export class Gauge extends Metric {
  readonly type = 'gauge';
  private values = new Map<string, { labels: Labels; value: number }>();
  constructor(name: string, help: string, labelNames: Labels, private readonly collect?: (set: (labels: Labels, v: number) => void) => void) {
    super(name, help, labelNames);
  }
  set(labels: Labels, value: number): void {
    this.values.set(labels.join(SEP), { labels: [...labels], value });
  }
  delete(labels: Labels): void {
    this.values.delete(labels.join(SEP));
  }
  samples(): string[] {
    if (this.collect) {
      this.values = new Map();
      this.collect((l, v) => this.set(l, v));
    }
    return [...this.values.values()].map((e) => `${this.name}${labelText(this.labelNames, e.labels)} ${fmt(e.value)}`);
  }
}

export interface HistogramSeries {
  readonly labels: Labels;
  readonly counts: Float64Array;
  count: number;
  sum: number;
}

export class Histogram extends Metric {
  readonly type = 'histogram';
  private readonly series = new Map<string, HistogramSeries>();
  constructor(name: string, help: string, labelNames: Labels, readonly buckets: readonly number[]) {
    super(name, help, labelNames);
  }
  observe(labels: Labels, v: number): void {
    this.observeSeries(this.seriesFor(labels), v);
  }
  /** The series for `labels` (made on first use); keep it to observe without building a key. */
  seriesFor(labels: Labels): HistogramSeries {
    const k = labels.join(SEP);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { labels: [...labels], counts: new Float64Array(this.buckets.length), count: 0, sum: 0 }));
    return s;
  }
  observeSeries(s: HistogramSeries, v: number): void {
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        s.counts[i]!++;
        break;
      }
    }
    s.count++;
    s.sum += v;
  }
  all(): HistogramSeries[] {
    return [...this.series.values()];
  }
  /** Removes every series whose first label is `first`. */
  dropFirst(first: string): void {
    for (const [k, e] of this.series) if (e.labels[0] === first) this.series.delete(k);
  }
  /** Removes every series whose labels `drop` says. */
  dropWhere(drop: (labels: Labels) => boolean): void {
    for (const [k, e] of this.series) if (drop(e.labels)) this.series.delete(k);
  }
  samples(): string[] {
    const out: string[] = [];
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        acc += s.counts[i]!;
        out.push(`${this.name}_bucket${labelText(this.labelNames, s.labels, ['le', fmt(this.buckets[i]!)])} ${acc}`);
      }
      out.push(`${this.name}_bucket${labelText(this.labelNames, s.labels, ['le', '+Inf'])} ${s.count}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, s.labels)} ${fmt(s.sum)}`);
      out.push(`${this.name}_count${labelText(this.labelNames, s.labels)} ${s.count}`);
    }
    return out;
  }
}

export class Registry {
  private readonly list: Metric[] = [];
  add<M extends Metric>(m: M): M {
    const i = this.list.findIndex((x) => x.name === m.name);
    if (i >= 0) this.list.splice(i, 1);
    this.list.push(m);
    return m;
  }
  remove(name: string): void {
    const i = this.list.findIndex((x) => x.name === name);
    if (i >= 0) this.list.splice(i, 1);
  }
  render(): string {
    return this.list.map((m) => m.render()).join('');
  }
}

const LATENCY = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_SIZES = [1, 10, 50, 100, 250, 500, 1000, 5000, 10_000];
const BATCH_LATENCY = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const ROWS = [0, 1, 10, 100, 1000, 10_000, 100_000, 1_000_000];

export interface EngineMetricsOptions {
  /** The clock of the recent windows (ms, monotonic; default performance.now). */
  readonly now?: () => number;
}

/** The engine's metrics. Label sets are bounded: pipelines, steps, status codes, error codes. */
export class EngineMetrics {
  /**
   * The last minute (six 10 s slots), for the /ui page; the Prometheus series above count since
   * the start. Pipelines by their label; steps by `pipeline, step, operator, phase` joined with \u0001.
   */
  readonly recentPipelines: RecentWindow;
  readonly recentSteps: RecentWindow;
  constructor(opts: EngineMetricsOptions = {}) {
    const now = opts.now ? { now: opts.now } : {};
    this.recentPipelines = new RecentWindow({ buckets: LATENCY, ...now });
    this.recentSteps = new RecentWindow({ buckets: LATENCY, ...now });
  }

  readonly registry = new Registry();
  readonly requests = this.registry.add(new Counter('airmail_requests_total', 'Pipeline requests by pipeline and HTTP status.', ['pipeline', 'status']));
  readonly latency = this.registry.add(new Histogram('airmail_request_duration_seconds', 'Pipeline request latency in seconds, by pipeline and HTTP status.', ['pipeline', 'status'], LATENCY));
  /** Pooled runs only: the time from asking for a worker to its run starting, so a slow request tells waiting from running (pool.ts). */
  readonly queueWait = this.registry.add(new Histogram('airmail_request_queue_seconds', 'Time a request waited for a worker thread before its run started, in seconds, by pipeline (requests run on the main thread are not counted).', ['pipeline'], LATENCY));
  readonly opLatency = this.registry.add(new Histogram('airmail_operator_duration_seconds', 'Time per pipeline step in seconds.', ['pipeline', 'step', 'operator', 'phase'], LATENCY));
  readonly opRows = this.registry.add(new Histogram('airmail_operator_rows_out', 'Rows a pipeline step returned.', ['pipeline', 'step', 'operator', 'phase'], ROWS));
  readonly empty = this.registry.add(new Counter('airmail_empty_results_total', 'Requests answered with no items, by the step (or stage) that emptied them.', ['pipeline', 'reason']));
  readonly errors = this.registry.add(new Counter('airmail_errors_total', 'Failed requests by error code and the step that failed.', ['pipeline', 'code', 'operator']));
  /** `why` and `?debug` runs (and their error answers): people looking, kept out of the serving series above. */
  /** A pipeline's `fallback:` ran (engine/fallback.ts): served (it answered) or failed (the original answer stood). */
  readonly fallbacks = this.registry.add(new Counter('airmail_fallbacks_total', 'Runs answered from a fallback pipeline (outcome=served) or where the fallback failed too and the original answer stood (outcome=failed), by pipeline, fallback and cause (error, deadline, empty).', ['pipeline', 'fallback', 'cause', 'outcome']));
  readonly diagnostic = this.registry.add(new Counter('airmail_diagnostic_requests_total', 'Why and debug requests (not in airmail_requests_total or the latency histogram), by pipeline, kind (why, debug) and HTTP status.', ['pipeline', 'kind', 'status']));
  /** Batches (POST /pipelines/{name}/batch) as HTTP requests; each element is counted in the series above as a request. */
  readonly batches = this.registry.add(new Counter('airmail_batch_requests_total', 'Batch requests (POST /pipelines/{name}/batch) by pipeline and HTTP status; each element run is also one of airmail_requests_total.', ['pipeline', 'status']));
  readonly batchSize = this.registry.add(new Histogram('airmail_batch_size', 'Requests per batch that was run, by pipeline.', ['pipeline'], BATCH_SIZES));
  readonly batchLatency = this.registry.add(new Histogram('airmail_batch_duration_seconds', 'Time to answer a batch that was run, in seconds, by pipeline.', ['pipeline'], BATCH_LATENCY));
  readonly reloads = this.registry.add(new Counter('airmail_config_reloads_total', 'Config reload attempts (one per change to the configs) by result: applied or rejected; a change partly applied counts once in each.', ['result']));
  readonly modelSwaps = this.registry.add(new Counter('airmail_model_swaps_total', 'Models swapped to a new version while serving.', ['model']));
  readonly models = this.registry.add(new Gauge('airmail_model_info', 'Model versions in service (value 1).', ['model', 'version']));
  private readonly modelVersion = new Map<string, string>();
  /**
   * Lookups answered by the per-thread front caches of remote sources (engine/remote/client.ts), by
   * source: workers count them and send the counts back with their replies. Rendered with the
   * broker's caches as `airmail_cache_requests_total{layer="front"}` (http/ui.ts).
   */
  readonly frontCacheCounts = new Map<string, { hit: number; stale: number; miss: number }>();

  /** `coalesced` (a miss that joined a fetch already out) counts as a miss. */
  frontCache(source: string, result: RemoteOutcome, n: number): void {
    let c = this.frontCacheCounts.get(source);
    if (!c) this.frontCacheCounts.set(source, (c = { hit: 0, stale: 0, miss: 0 }));
    c[result === 'coalesced' ? 'miss' : result] += n;
  }

  /**
   * `pipeline` is no longer served (removed, or renamed): its series leave /metrics and /ui/stats, so
   * names added and removed over weeks (an admin's experiments) do not pile up. Served again later,
   * it starts from zero, which Prometheus reads as a counter reset.
   */
  forgetPipeline(pipeline: string): void {
    for (const m of [this.requests, this.latency, this.queueWait, this.opLatency, this.opRows, this.empty, this.errors, this.diagnostic, this.fallbacks, this.batches, this.batchSize, this.batchLatency]) m.dropFirst(pipeline);
    this.recentPipelines.drop((k) => k === pipeline);
    this.recentSteps.drop((k) => k.startsWith(`${pipeline}\u0001`));
  }

  /** A live swap from `from` to `to`: counted even when no scrape has recorded `from` yet. */
  modelSwapped(name: string, from: string, to: string): void {
    if (!this.modelVersion.has(name)) this.modelInService(name, from);
    this.modelInService(name, to);
  }

  /** `name` no longer serves (its pipelines were removed or changed): its `airmail_model_info` series goes. */
  modelRetired(name: string): void {
    const prev = this.modelVersion.get(name);
    if (prev === undefined) return;
    this.models.delete([name, prev]);
    this.modelVersion.delete(name);
  }

  /** A model now serves `version` (first load or swap). */
  modelInService(name: string, version: string): void {
    const prev = this.modelVersion.get(name);
    if (prev === version) return;
    if (prev !== undefined) {
      this.models.delete([name, prev]);
      this.modelSwaps.inc([name]);
    }
    this.modelVersion.set(name, version);
    this.models.set([name, version], 1);
  }
}

/** The process-wide metrics. */
export const metrics = new EngineMetrics();

/** Hook for the model registry: `name` now serves `version`; a change of version counts as a swap. */
export function recordModelSwap(name: string, version: string): void {
  metrics.modelInService(name, version);
}

/**
 * Where an empty result came from, as a bounded label: the step name, or the stage. `adhoc`: the
 * steps of a pipeline sent with the request are the caller's names, so they all read `step`.
 */
export function emptyReasonLabel(reason: string | null, adhoc = false): string {
  if (!reason) return 'unknown';
  if (reason.startsWith('context ')) return 'context';
  if (reason.startsWith('includes ')) return 'includes';
  if (reason.startsWith('excludes ')) return 'excludes';
  const m = /^([A-Za-z_][\w.-]*)\(/.exec(reason);
  return m ? (adhoc ? 'step' : m[1]!) : 'other';
}
