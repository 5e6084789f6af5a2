/**
 * Routes for people and scrapers: GET /metrics (Prometheus text),
 * POST /pipelines/{name}/why ("why is this item not in the result?"),
 * GET /ui (a page served from a string; no build step) and the JSON it polls.
 */
import type { Context, Hono } from 'hono';
import { AirmailError, asAirmailError, clip } from '../errors.js';
import type { Engine } from '../engine.js';
import type { ObserveRunOptions } from '../observe/index.js';
import { inputsNotAnObject, isPlainObject, readBody } from './body.js';
import { NOW_HEADER, nowOption } from './deadline.js';
import { ARM_HEADER, ARM_QUERY, forcedArm, pickArm } from '../experiments.js';
import { UI_PAGE } from './ui/page.js';
import { checkWhyItem, itemsCatalog, topLevelInputsHint, unknownItem } from '../observe/why-item.js';
import { isAbsolute, relative } from 'node:path';
import { FIXED_LABELS } from '../observe/index.js';
import { modelFileVersion } from '../onnx.js';
import { redactText } from '../redact.js';
import type { RecentWindow } from '../observe/recent.js';
import type { EngineMetrics } from '../observe/metrics.js';

/** Trace context and debug options a request carries in its headers. */
export function traceOptions(c: Context): Pick<ObserveRunOptions, 'traceparent' | 'tracestate' | 'debugIds' | 'requestId' | 'httpRequest'> {
  const tp = c.req.header('traceparent');
  const ts = c.req.header('tracestate');
  const ids = debugIdsOption(c.req.header(DEBUG_IDS_HEADER));
  const requestId = c.get('requestId');
  // Object.assign, not a literal that starts with a spread (see executeObserved in observe/collect.ts).
  // httpRequest: Hono's request itself (no copy); the request span reads method, route and path from it.
  return Object.assign({ httpRequest: c.req }, tp ? { traceparent: tp } : undefined, ts ? { tracestate: ts } : undefined, ids !== undefined ? { debugIds: ids } : undefined, requestId ? { requestId } : undefined);
}

const DEBUG_IDS_HEADER = 'x-airmail-debug-ids';

/** How many ids a debug step lists, from its header: a whole number ≥ 0; anything else (`lots`, `-1`, `2.5`) is a 400, not ignored. */
export function debugIdsOption(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  if (!/^[0-9]{1,9}$/.test(text)) throw new AirmailError('HEADER_INVALID', `${DEBUG_IDS_HEADER} must be a whole number of ids from 0 to 999999999 (listed per debug step), got ${JSON.stringify(clip(text, 40))}`);
  return Number(text);
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Gauges and counters read from the engine at scrape time (pool, caches, pipelines, tracing queue). */
export function engineMetricsText(engine: Engine): string {
  const out: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, rows: [Record<string, string>, number][]): void => {
    if (rows.length === 0) return;
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(',');
      out.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(v) ? v : 0}`);
    }
  };
  const st = engine.runner.stats();
  metric('airmail_pool_threads', 'gauge', 'Worker threads in the pool.', [[{}, st.threads]]);
  metric('airmail_pool_queue_depth', 'gauge', 'Tasks waiting for a worker.', [[{}, st.queued]]);
  metric('airmail_pool_utilization', 'gauge', 'Share of the worker threads busy with tasks over the last 10 s (0..1).', [[{}, st.utilization]]);
  const failures = (engine.runner as { workerFailures?: unknown }).workerFailures;
  if (typeof failures === 'number') metric('airmail_pool_worker_failures_total', 'counter', 'Workers lost to a crash, exit or watchdog stop (each replaced).', [[{}, failures]]);
  const snap = engine.snapshot;
  metric('airmail_pipeline_info', 'gauge', 'Pipelines in service and their versions (value 1).', [...snap.pipelines.values()].map((p) => [{ pipeline: p.name, version: p.version }, 1]));
  metric('airmail_config_rejections', 'gauge', 'Config files whose last change was rejected and not yet fixed.', [[{}, engine.store.allRejections().length]]);
  // A source is named by its operator, often with its configured URL (a source without a name by its
  // kind: see statsName): /metrics is public, so user info and query strings go, and sources that
  // differ only there are one series.
  const cache = new Map<string, [Record<string, string>, number]>();
  const count = (source: string, layer: string, result: string, n: number): void => {
    const labels = { source: redactText(source), layer, result };
    const key = JSON.stringify(labels);
    const row = cache.get(key);
    if (row) row[1] += n;
    else cache.set(key, [labels, n]);
  };
  const rs = engine.remote.stats();
  for (const [layer, stats] of [['shared', rs.shared], ['local', rs.local]] as const) {
    for (const [source, x] of Object.entries(stats.sources)) {
      count(source, layer, 'hit', x.hits + x.l2Hits);
      count(source, layer, 'miss', x.misses);
      count(source, layer, 'stale', x.staleServes);
    }
  }
  // The per-thread front caches (workers, inline runs): a warm request never reaches the broker.
  for (const [source, x] of engine.observe.metrics?.frontCacheCounts ?? []) {
    count(source, 'front', 'hit', x.hit);
    count(source, 'front', 'miss', x.miss);
    count(source, 'front', 'stale', x.stale);
  }
  // By origin (scheme://host:port: no credentials, path or query), so an alert says which upstream is down.
  const breakers = [...rs.http.breakers.map((b) => ({ kind: 'http', ...b })), ...rs.redis.breakers.map((b) => ({ kind: 'redis', ...b }))];
  metric('airmail_source_breaker_opened_total', 'counter', 'Times a remote source\'s dependency stopped answering and its fetches were failed at once, by kind and origin (kind redis: a command timed out or Redis was unreachable; http: 5 attempts in a row to one origin could not reach it or got 502, 503, 504).', breakers.map((b) => [{ kind: b.kind, origin: b.origin }, b.opened]));
  metric('airmail_source_breaker_skipped_total', 'counter', 'Remote-source fetch attempts failed at once (a stale copy answers where allowed) because their Redis or origin was not answering, by kind and origin.', breakers.map((b) => [{ kind: b.kind, origin: b.origin }, b.skipped]));
  metric('airmail_cache_requests_total', 'counter', 'Remote-source cache lookups by source, layer (front: a thread\'s own cache; shared, local: the main thread\'s) and result (hit, miss, stale served).', [...cache.values()]);
  const t = engine.observe.tracing?.processor;
  if (t) {
    metric('airmail_trace_spans_exported_total', 'counter', 'Spans the collector accepted.', [[{}, t.exported]]);
    metric('airmail_trace_spans_dropped_total', 'counter', 'Spans dropped: export queue full, or the collector failed.', [[{ reason: 'queue_full' }, t.dropped.queue_full], [{ reason: 'export_failed' }, t.dropped.export_failed]]);
  }
  return `${out.join('\n')}\n`;
}

/** A series over the recent window, as the page shows it: rate per second, mean and quantiles in seconds. */
function recentRow(w: RecentWindow, key: string): Record<string, number> {
  const r = w.read(w.get(key));
  return { requests: r.requests, per_second: r.requests / r.span, errors: r.errors, empty: r.empty, mean: r.timed ? r.seconds / r.timed : NaN, p50: r.p50, p95: r.p95 };
}

/**
 * Per pipeline and per step: totals since the start (`requests`, `timed`, `seconds`, `empty`, `errors`,
 * `count`), and `recent`: the last `window_s` seconds (the page's live numbers; see observe/recent.ts).
 */
export function uiStats(engine: Engine): Record<string, unknown> {
  const m = engine.observe.metrics;
  // requests: every answer counted in airmail_requests_total (refusals included); timed and seconds:
  // those that reached a run, as airmail_request_duration_seconds counts them.
  type Totals = { requests: number; timed: number; seconds: number; empty: number; errors: number; recent?: Record<string, number> };
  // Keyed by pipeline names: no prototype, so no name can reach Object.prototype through them.
  const pipelines: Record<string, Totals> = Object.create(null) as Record<string, never>;
  // Ad-hoc runs, unknown names and other routes' errors (their fixed `_` labels) are not pipelines.
  const other: Record<string, Totals> = Object.create(null) as Record<string, never>;
  const get = (name: string): Totals => ((FIXED_LABELS.has(name) ? other : pipelines)[name] ??= { requests: 0, timed: 0, seconds: 0, empty: 0, errors: 0 });
  const operators: { pipeline: string; step: string; operator: string; phase: string; count: number; seconds: number; recent: Record<string, number> }[] = [];
  if (m) {
    for (const s of m.latency.all()) {
      const p = get(s.labels[0]!);
      p.timed += s.count;
      p.seconds += s.sum;
    }
    for (const e of m.requests.entries()) get(e.labels[0]!).requests += e.value;
    for (const e of m.empty.entries()) get(e.labels[0]!).empty += e.value;
    for (const e of m.errors.entries()) get(e.labels[0]!).errors += e.value;
    for (const s of m.opLatency.all()) {
      if (FIXED_LABELS.has(s.labels[0]!)) continue;
      operators.push({ pipeline: s.labels[0]!, step: s.labels[1]!, operator: s.labels[2]!, phase: s.labels[3]!, count: s.count, seconds: s.sum, recent: recentRow(m.recentSteps, s.labels.join('\u0001')) });
    }
  }
  if (m) for (const group of [pipelines, other]) for (const name of Object.keys(group)) group[name]!.recent = recentRow(m.recentPipelines, name);
  // When the configs last reloaded (applied or rejected): the page refreshes its pipelines when this moves.
  const history = engine.store.reloadHistory();
  const configChangedAt = history[history.length - 1]?.at ?? null;
  return { now: Date.now(), metrics: m !== undefined, window_s: m?.recentPipelines.seconds ?? 0, config_changed_at: configChangedAt, pipelines, operators, other };
}

/**
 * Model files the loaded pipelines score with (a step whose `model` parameter is a file path, as
 * ModelScore's), by path relative to the configs directory, with the first 12 hex digits of the
 * sha256 the config load saw (`unknown` before one did).
 */
export function fileModels(engine: Engine): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of engine.snapshot.pipelines.values()) {
    const plan = p.plan;
    for (const s of [...plan.includes, ...plan.excludes, ...plan.pre, ...plan.scorers, ...plan.post]) {
      const model = s.params['model'];
      if (typeof model !== 'string' || model.startsWith('$') || !isAbsolute(model) || s.params['resolved'] !== undefined) continue;
      out.set(relative(engine.store.dir, model), modelFileVersion(model)?.slice(0, 12) ?? 'unknown');
    }
  }
  return out;
}

const listening = new WeakSet<Engine>();
/** The models each engine's last scrape found in service (registry bindings and model files). */
const servedModels = new WeakMap<Engine, Set<string>>();

/**
 * `airmail_model_info` as of now: the registry bindings and model files the loaded pipelines use.
 * One that left service since the last scrape (its pipeline removed, or changed to another model)
 * drops out, rather than being shown as in service for good.
 */
function modelsInService(engine: Engine, m: EngineMetrics): void {
  const now = new Set<string>();
  if (engine.models) {
    for (const [binding, ref] of Object.entries(engine.models.refs)) {
      m.modelInService(binding, ref.version);
      now.add(binding);
    }
  }
  for (const [name, version] of fileModels(engine)) {
    m.modelInService(name, version);
    now.add(name);
  }
  for (const name of servedModels.get(engine) ?? []) if (!now.has(name)) m.modelRetired(name);
  servedModels.set(engine, now);
}

export function mountObservability(app: Hono, engine: Engine): void {
  const m = engine.observe.metrics;
  // Listeners once per engine, however many apps (main and admin listeners) are mounted on it.
  if (m && !listening.has(engine)) {
    listening.add(engine);
    // A rejection cleared by putting a file back is no reload: nothing was applied.
    engine.store.onReload((e) => { if (e.kind !== 'cleared') m.reloads.inc([e.kind]); });
    // Registry models: each binding's version in service, and every live swap.
    engine.models?.onSwap((s) => m.modelSwapped(s.binding, s.from, s.to));
  }

  app.get('/metrics', (c) => {
    if (m) modelsInService(engine, m);
    const text = (m ? m.registry.render() : '') + engineMetricsText(engine);
    return c.body(text, 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });

  app.post('/pipelines/:name/why', async (c) => {
    // Pinned before the body is read: a reload meanwhile (an arm removed) must not make the arm the
    // inputs pick a 404; the request explains the configs it started with, as a run in flight does.
    const snapshot = engine.snapshot;
    const x = snapshot.experiments?.get(c.req.param('name'));
    const forced = x ? forcedArm(x, c.req.queries(ARM_QUERY), c.req.header(ARM_HEADER)) : undefined;
    // An experiment explains the arm its inputs (or ?arm=) pick: the arm is known once the body is read.
    const named = x ? undefined : engine.pipeline(c.req.param('name'));
    // Read first: a bad debug header is a 400 in the error shape, not a why answer.
    const trace = traceOptions(c);
    // A pinned now (x-airmail-now) explains the answer the same pinned request gave.
    const now = nowOption(c.req.header(NOW_HEADER));
    const { value, format } = await readBody(c, 'json');
    if (!isPlainObject(value)) throw inputsNotAnObject('a JSON object: {"inputs": {...}, "item": <id>}');
    const picked = x ? pickArm(engine, x, isPlainObject(value['inputs']) ? value['inputs'] : {}, format, forced, snapshot) : undefined;
    const p = picked?.arm ?? named!;
    const experiment = picked ? { experiment: picked.experiment } : {};
    const item = value['item'] ?? value['item_id'] ?? value[p.plan.itemType];
    if (typeof item !== 'string' && typeof item !== 'number') {
      throw new AirmailError('INPUT_INVALID', `the body needs "item": the ${p.plan.itemType} to explain`, { details: { errors: [{ path: '/item', message: 'must be a string or a number' }] } });
    }
    const catalog = itemsCatalog(p, snapshot.datasets);
    const id = checkWhyItem(p, catalog, item);
    const inputs = isPlainObject(value['inputs']) ? value['inputs'] : {};
    let checked: Record<string, unknown>;
    try {
      checked = picked ? picked.inputs : engine.checkInputs(p, inputs, format);
    } catch (err) {
      const hint = topLevelInputsHint(p, value);
      if (!hint || !(err instanceof AirmailError) || err.code !== 'INPUT_INVALID') throw err;
      throw new AirmailError('INPUT_INVALID', `${err.message}; ${hint}`, { details: Object.assign({}, err.details, { hint }) });
    }
    try {
      const res = await engine.run(p, checked, Object.assign({ why: id, snapshot }, trace, now));
      return c.json({ pipeline: p.name, version: p.version, item: id, why: unknownItem(catalog, id, res.why), items: res.items, reason: res.reason, error: res.error, ...experiment });
    } catch (err) {
      const e = asAirmailError(err);
      return c.json({ pipeline: p.name, version: p.version, item, why: { item, verdict: 'error', reason: `the pipeline failed: ${e.message}`, includedBy: [], notIncludedBy: [], excludedBy: [] }, items: [], reason: e.message, error: true, code: e.code, ...experiment }, (e.status === 200 ? 500 : e.status) as 500);
    }
  });

  app.get('/ui/stats', (c) => c.json(uiStats(engine)));
  app.get('/ui', (c) => c.html(UI_PAGE));
  app.get('/', (c) => c.redirect('/ui'));
}

