/**
 * An undici load generator with two modes.
 *
 * - Closed loop: C virtual users, each sending its next request when the last
 *   one answers. Measures peak throughput; its latencies hide server stalls
 *   (a stalled server also stalls the senders: "coordinated omission").
 * - Open loop: requests are due at t0 + i/R whether or not earlier ones have
 *   answered, and latency runs from that intended time, so a stall shows up in
 *   every request that should have been sent during it. Requests over the
 *   outstanding cap are dropped and counted as errors, never queued silently.
 *
 * Both modes warm up for `warmupS` unmeasured seconds first, use one undici
 * Pool per origin (keep-alive, pipelining 1), and can sample a server pid.
 */
import { Pool } from 'undici';
import { Histogram } from './histogram.js';
import { RawClient } from './raw-client.js';
import { startProcSampler, startSelfCpu } from './proc-sampler.js';
import type { ProcSampler, ProcUsage } from './proc-sampler.js';

export interface RequestSpec {
  method?: string;
  /** Path and query, e.g. '/pipelines/home?debug=1'. */
  path: string;
  /** A string body gets `content-type: application/json` unless headers set one. */
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  /** Overrides the run's origin (scheme://host:port) for this request. */
  origin?: string;
}

/** Builds request number `i` (0-based, counting warm-up requests). */
export type MakeRequest = (i: number) => RequestSpec;
/** Called for 2xx answers with the parsed JSON body (the raw text if it is not JSON); false counts a wrong answer. */
export type CheckResponse = (status: number, body: unknown) => boolean;

export interface LoadOptions {
  /** Target URL; its origin is where requests go. */
  url: string;
  makeRequest: MakeRequest;
  check?: CheckResponse;
  durationS: number;
  warmupS?: number;
  /** Server process to sample for CPU % and RSS during the measured window. */
  pid?: number;
  /** Headers + body timeout per request (default 10 000 ms). */
  timeoutMs?: number;
  /** Connections per origin (closed default: concurrency; open default: min(maxOutstanding, 256)). */
  connections?: number;
  sampleIntervalMs?: number;
  /** 'raw': the lean socket client of raw-client.ts, for runs that share the server's CPU (default 'undici'). */
  client?: 'undici' | 'raw';
}

export interface ClosedLoopOptions extends LoadOptions {
  concurrency: number;
}

export interface OpenLoopOptions extends LoadOptions {
  /** Intended arrival rate, requests per second. */
  rate: number;
  /** Requests in flight above which new ones are dropped (default 1000). */
  maxOutstanding?: number;
}

export interface LatencySummary {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface ErrorCounts {
  /** Answers with a status outside 200–299. */
  non2xx: number;
  /** Connection failures and other transport errors. */
  network: number;
  /** Headers or body timeouts. */
  timeout: number;
  /** 2xx answers that `check` rejected. */
  check: number;
  /** Open loop only: requests not sent because `maxOutstanding` were in flight. */
  dropped: number;
}

export interface LoadResult {
  mode: 'closed' | 'open';
  concurrency?: number;
  rate?: number;
  durationS: number;
  warmupS: number;
  /** Measured requests attempted (open: intended in the window, including dropped ones). */
  requests: number;
  /** Measured requests that got an HTTP answer (any status). */
  completed: number;
  /** Answers per second over the measured window. */
  rps: number;
  errors: ErrorCounts;
  /** Sum of all error kinds. */
  errorCount: number;
  statusCounts: Record<string, number>;
  /** Error codes of transport failures (e.g. UND_ERR_SOCKET), for diagnosis. */
  errorCodes: Record<string, number>;
  /** Milliseconds; closed: from send, open: from the intended send time. */
  latencyMs: LatencySummary;
  /** The same, for 2xx answers that passed the check only (goodput), and for all other answers. */
  goodLatencyMs: LatencySummary;
  otherLatencyMs: LatencySummary;
  server?: ProcUsage;
  /** CPU % of the load generator itself: near 100 means it may be the bottleneck. */
  clientCpuPercent: number;
}

/** A fixed request against `url` (its path and query), e.g. for the CLI. */
export function fixedRequest(url: string, init: Omit<RequestSpec, 'path' | 'origin'> = {}): MakeRequest {
  const u = new URL(url);
  const spec: RequestSpec = { ...init, path: u.pathname + u.search };
  return () => spec;
}

type Outcome =
  | { kind: 'answer'; status: number; checkFailed: boolean }
  | { kind: 'error'; code: string; timeout: boolean };

class Tally {
  readonly histogram = new Histogram();
  /** Split of `histogram`: 2xx answers that passed the check, and every other answer. */
  readonly good = new Histogram();
  readonly other = new Histogram();
  readonly errors: ErrorCounts = { non2xx: 0, network: 0, timeout: 0, check: 0, dropped: 0 };
  readonly statusCounts: Record<string, number> = {};
  readonly errorCodes: Record<string, number> = {};
  requests = 0;
  completed = 0;

  add(outcome: Outcome, latencyMs: number): void {
    this.requests++;
    if (outcome.kind === 'error') {
      if (outcome.timeout) this.errors.timeout++;
      else this.errors.network++;
      this.errorCodes[outcome.code] = (this.errorCodes[outcome.code] ?? 0) + 1;
      return;
    }
    this.completed++;
    this.histogram.record(latencyMs * 1000);
    this.statusCounts[outcome.status] = (this.statusCounts[outcome.status] ?? 0) + 1;
    if (outcome.status < 200 || outcome.status > 299) this.errors.non2xx++;
    else if (outcome.checkFailed) this.errors.check++;
    else return this.good.record(latencyMs * 1000);
    this.other.record(latencyMs * 1000);
  }

  drop(): void {
    this.requests++;
    this.errors.dropped++;
  }
}

function summarize(h: Histogram): LatencySummary {
  const ms = (us: number): number => Math.round(us) / 1000;
  return {
    min: ms(h.min),
    mean: ms(h.mean),
    p50: ms(h.percentile(50)),
    p90: ms(h.percentile(90)),
    p99: ms(h.percentile(99)),
    p999: ms(h.percentile(99.9)),
    max: ms(h.max),
  };
}

/** One client per origin (an undici Pool, or a RawClient), created on first use; `close()` ends them all. */
class Pools {
  private readonly pools = new Map<string, Pool>();
  private readonly raws = new Map<string, RawClient>();
  constructor(private readonly connections: number, private readonly timeoutMs: number, readonly raw = false) {}

  get(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.connections,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  getRaw(origin: string): RawClient {
    let c = this.raws.get(origin);
    if (!c) this.raws.set(origin, (c = new RawClient(origin, { connections: this.connections, timeoutMs: this.timeoutMs })));
    return c;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => p.destroy())));
    await Promise.all([...this.raws.values()].map((c) => c.close()));
    this.pools.clear();
    this.raws.clear();
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'RAW_TIMEOUT']);

/** Status and a reader of the body text (which must be called or the body drained, for undici). */
async function exchange(pools: Pools, origin: string, spec: RequestSpec, headers: Record<string, string>): Promise<{ status: number; text(): Promise<string>; drain(): Promise<unknown> }> {
  const method = spec.method ?? (spec.body === undefined ? 'GET' : 'POST');
  if (pools.raw) {
    const body = spec.body === undefined || typeof spec.body === 'string' ? spec.body : Buffer.from(spec.body).toString('utf8');
    const r = await pools.getRaw(origin).request(method, spec.path, headers, body);
    return { status: r.status, text: async () => r.body.toString('utf8'), drain: async () => undefined };
  }
  const res = await pools.get(origin).request({ method, path: spec.path, body: spec.body, headers });
  return { status: res.statusCode, text: () => res.body.text(), drain: () => res.body.arrayBuffer() };
}

async function send(pools: Pools, defaultOrigin: string, spec: RequestSpec, check: CheckResponse | undefined): Promise<Outcome> {
  const headers: Record<string, string> = { ...spec.headers };
  if (spec.body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  try {
    const res = await exchange(pools, spec.origin ?? defaultOrigin, spec, headers);
    const ok = res.status >= 200 && res.status <= 299;
    if (!check || !ok) {
      await res.drain(); // drain fully so the connection is reused
      return { kind: 'answer', status: res.status, checkFailed: false };
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: the check sees the raw text
    }
    let passed = false;
    try {
      passed = check(res.status, parsed);
    } catch {
      passed = false;
    }
    return { kind: 'answer', status: res.status, checkFailed: !passed };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const name = typeof code === 'string' ? code : err instanceof Error ? err.name : 'UNKNOWN';
    return { kind: 'error', code: name, timeout: TIMEOUT_CODES.has(name) };
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Starts server/client CPU sampling at `startAt`; `stop()` reads both. */
function windowSampler(pid: number | undefined, intervalMs: number | undefined, startAt: number) {
  let proc: ProcSampler | undefined;
  let self: { stop(): number } | undefined;
  const begin = (): void => {
    if (pid !== undefined) proc = startProcSampler(pid, intervalMs);
    self = startSelfCpu();
  };
  const timer = setTimeout(begin, Math.max(0, startAt - performance.now()));
  return {
    stop(): { server?: ProcUsage; clientCpuPercent: number } {
      clearTimeout(timer);
      if (!self) begin();
      return { server: proc?.stop(), clientCpuPercent: Math.round(self!.stop() * 10) / 10 };
    },
  };
}

function result(mode: 'closed' | 'open', opts: LoadOptions, tally: Tally, measured: { server?: ProcUsage; clientCpuPercent: number }): LoadResult {
  const errors = tally.errors;
  const out: LoadResult = {
    mode,
    durationS: opts.durationS,
    warmupS: opts.warmupS ?? 0,
    requests: tally.requests,
    completed: tally.completed,
    rps: Math.round((tally.completed / opts.durationS) * 10) / 10,
    errors,
    errorCount: errors.non2xx + errors.network + errors.timeout + errors.check + errors.dropped,
    statusCounts: tally.statusCounts,
    errorCodes: tally.errorCodes,
    latencyMs: summarize(tally.histogram),
    goodLatencyMs: summarize(tally.good),
    otherLatencyMs: summarize(tally.other),
    clientCpuPercent: measured.clientCpuPercent,
  };
  if (measured.server) out.server = measured.server;
  return out;
}

function validate(opts: LoadOptions): void {
  if (!(opts.durationS > 0)) throw new RangeError(`durationS must be > 0, got ${opts.durationS}`);
  if (opts.warmupS !== undefined && !(opts.warmupS >= 0)) throw new RangeError(`warmupS must be >= 0, got ${opts.warmupS}`);
}

/**
 * Closed loop: `concurrency` users for warm-up + duration. A request counts when
 * it completes inside the measured window; latency is from its send.
 */
export async function runClosedLoop(opts: ClosedLoopOptions): Promise<LoadResult> {
  validate(opts);
  if (!(opts.concurrency >= 1)) throw new RangeError(`concurrency must be >= 1, got ${opts.concurrency}`);
  const origin = new URL(opts.url).origin;
  const pools = new Pools(opts.connections ?? opts.concurrency, opts.timeoutMs ?? 10_000, opts.client === 'raw');
  const tally = new Tally();
  const start = performance.now();
  const measureStart = start + (opts.warmupS ?? 0) * 1000;
  const measureEnd = measureStart + opts.durationS * 1000;
  const sampler = windowSampler(opts.pid, opts.sampleIntervalMs, measureStart);
  let measured: ReturnType<typeof sampler.stop> | undefined;
  const stopTimer = setTimeout(() => (measured = sampler.stop()), measureEnd - start);
  let next = 0;
  const user = async (): Promise<void> => {
    while (performance.now() < measureEnd) {
      const spec = opts.makeRequest(next++);
      const sent = performance.now();
      const outcome = await send(pools, origin, spec, opts.check);
      const done = performance.now();
      if (done >= measureStart && done <= measureEnd) tally.add(outcome, done - sent);
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, user));
  } finally {
    clearTimeout(stopTimer);
    measured ??= sampler.stop();
    await pools.close();
  }
  return { ...result('closed', opts, tally, measured), concurrency: opts.concurrency };
}

/**
 * Open loop: request i is due at t0 + i/rate. Late timers send every overdue
 * request at once, and latency always runs from the due time.
 */
export async function runOpenLoop(opts: OpenLoopOptions): Promise<LoadResult> {
  validate(opts);
  if (!(opts.rate > 0)) throw new RangeError(`rate must be > 0, got ${opts.rate}`);
  const maxOutstanding = opts.maxOutstanding ?? 1000;
  const origin = new URL(opts.url).origin;
  const pools = new Pools(opts.connections ?? Math.min(maxOutstanding, 256), opts.timeoutMs ?? 10_000, opts.client === 'raw');
  const tally = new Tally();
  const intervalMs = 1000 / opts.rate;
  const warmCount = Math.ceil((opts.warmupS ?? 0) * opts.rate);
  const total = warmCount + Math.ceil(opts.durationS * opts.rate);
  const t0 = performance.now();
  const sampler = windowSampler(opts.pid, opts.sampleIntervalMs, t0 + warmCount * intervalMs);
  const inflight = new Set<Promise<void>>();
  let measured: ReturnType<typeof sampler.stop> | undefined;

  const dispatch = (i: number): void => {
    const due = t0 + i * intervalMs;
    const counted = i >= warmCount;
    if (inflight.size >= maxOutstanding) {
      if (counted) tally.drop();
      return;
    }
    const p = send(pools, origin, opts.makeRequest(i), opts.check).then((outcome) => {
      if (counted) tally.add(outcome, performance.now() - due);
      inflight.delete(p);
    });
    inflight.add(p);
  };

  try {
    let i = 0;
    while (i < total) {
      const now = performance.now();
      while (i < total && t0 + i * intervalMs <= now) dispatch(i++);
      if (i < total) await sleep(t0 + i * intervalMs - performance.now());
    }
    // The measured window is the span of due times; draining the tail is not part of it.
    measured = sampler.stop();
    while (inflight.size > 0) await Promise.all(inflight);
  } finally {
    measured ??= sampler.stop();
    await pools.close();
  }
  return { ...result('open', opts, tally, measured), rate: opts.rate };
}

export interface PeakOptions extends LoadOptions {
  concurrencies: readonly number[];
  /** One unmeasured run at the highest concurrency before the series, for JIT warm-up. */
  initialWarmupS?: number;
}

export interface PeakResult {
  best: LoadResult;
  runs: LoadResult[];
}

/**
 * Runs the closed loop at each concurrency and picks the highest throughput
 * among runs with at most 1 % errors (any run if none qualifies).
 */
export async function findPeak(opts: PeakOptions): Promise<PeakResult> {
  if (opts.concurrencies.length === 0) throw new RangeError('concurrencies must not be empty');
  if (opts.initialWarmupS && opts.initialWarmupS > 0) {
    await runClosedLoop({ ...opts, concurrency: Math.max(...opts.concurrencies), durationS: opts.initialWarmupS, warmupS: 0, pid: undefined });
  }
  const runs: LoadResult[] = [];
  for (const concurrency of opts.concurrencies) runs.push(await runClosedLoop({ ...opts, concurrency }));
  const pool = healthyRuns(runs);
  const best = pool.reduce((a, b) => (b.rps > a.rps ? b : a));
  return { best, runs };
}

/** The runs with at most 1 % errors, or every run when none qualifies: what a peak is picked from. */
export function healthyRuns(runs: readonly LoadResult[]): readonly LoadResult[] {
  const healthy = runs.filter((r) => r.errorCount <= 0.01 * Math.max(1, r.requests));
  return healthy.length > 0 ? healthy : runs;
}
