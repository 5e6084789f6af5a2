/**
 * Overload: find the peak (closed loop), then offer twice that rate (open
 * loop) and check that goodput stays at least 90 % of the peak and that the
 * requests the server accepts keep their p99 (the rest are fast 503s).
 *
 *   npx tsx loadtest/overload.ts                         # standard workload, 10 s at 2x
 *   npx tsx loadtest/overload.ts --duration 15 --runs 5  # a series: each run, and the median
 *   npx tsx loadtest/overload.ts --duration 20 --max-queue-wait-ms 20 --threads 1 --workload demo
 *
 * The peak is measured on an engine with the default admission, the 2x run on
 * a fresh one started with `--max-queue-wait-ms` (default 10 here). Where
 * there are at least two cores, the engine and the generator run on separate
 * ones (taskset; `--no-pin` to share them). Each engine runs in its own
 * process (`airmail serve`: dist/ when built, so run `npm run build` first,
 * or set AIRMAIL_FROM_SOURCE=1). Load comes from
 * the lean socket client (`--client raw`, raw-client.ts; `--client undici`
 * for the other); open-loop latency counts from each request's intended send
 * time, and the report gives the CPU of both sides.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { findPeak, healthyRuns, runClosedLoop, runOpenLoop, type LoadResult } from './generator.js';
import { benchRequests, okItems, startEngine } from './scenarios.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = join(ROOT, '../shared/bench');

export interface OverloadOptions {
  readonly durationS: number;
  readonly workload?: 'bench' | 'demo';
  readonly threads?: number;
  readonly maxQueueWaitMs?: number;
  readonly factor?: number;
  /** Load generator: 'raw' (default), the lean socket client, or 'undici'. */
  readonly client?: 'raw' | 'undici';
  /**
   * Keep the generator off the engine's cores (default: on, where there are at least 2): the
   * engine runs on the first cores, this process on the last quarter (at least one). On shared
   * cores the generator's own cost for each extra request is taken from the engine, and at 2x
   * that alone is about a tenth of what a served request costs here.
   */
  readonly pin?: boolean;
}

/** The engine's and the generator's cores (`taskset -c` lists), or undefined when not pinning. */
export function splitCores(n: number): { engine: string; engineCores: number; generator: string } | undefined {
  if (n < 2) return undefined;
  const gen = Math.max(1, Math.round(n / 4));
  const range = (a: number, b: number): string => (a === b ? String(a) : `${a}-${b}`);
  return { engine: range(0, n - gen - 1), engineCores: n - gen, generator: range(n - gen, n - 1) };
}

export interface OverloadReport {
  readonly client: 'raw' | 'undici';
  readonly threads: number;
  /** The cores the engine and the generator ran on (`taskset -c` lists), when pinned. */
  readonly cores?: { readonly engine: string; readonly generator: string };
  readonly maxQueueWaitMs: number;
  /** rps and concurrency: the best closed-loop run; p99 and kneeConcurrency: the knee's (see peakOf). */
  readonly peak: { readonly rps: number; readonly p99: number; readonly concurrency: number; readonly kneeConcurrency: number; readonly clientCpuPercent: number; readonly serverCpuPercent: number };
  readonly offeredRps: number;
  readonly goodputRps: number;
  readonly accepted: { readonly p50: number; readonly p99: number };
  readonly statuses: Readonly<Record<string, number>>;
  readonly rejected: { readonly p99: number };
  /** CPU % (100 = one core) of the generator and of the server process during the 2x run. */
  readonly clientCpuPercent: number;
  readonly serverCpuPercent: number;
  readonly goodputOk: boolean;
  readonly p99Ok: boolean;
}

async function configsFor(workload: 'bench' | 'demo'): Promise<string> {
  if (workload === 'demo') return join(ROOT, 'configs');
  const dir = await mkdtemp(join(tmpdir(), 'airmail-overload-'));
  const src = join(ROOT, 'loadtest/bench-configs');
  for (const f of await readdir(src)) {
    if (/\.ya?ml$/.test(f)) await writeFile(join(dir, f), (await readFile(join(src, f), 'utf8')).replaceAll('../../../shared/bench/', `${BENCH}/`));
  }
  return dir;
}

const goodput = (r: LoadResult): number => (r.completed - r.errors.non2xx - r.errors.check) / r.durationS;

/**
 * The peak and the p99 its requests are to keep, from closed-loop runs at rising concurrency: the
 * best goodput among runs with at most 1 % errors (any run if none), and the p99 of the first of
 * them that reached 95 % of it (the knee). Past the knee more in flight adds queueing to the p99
 * and little goodput: judged by the deepest run's p99 (386–756 ms at 64 in flight in one series),
 * keeping it would say nothing.
 */
export function peakOf(runs: readonly LoadResult[]): { best: LoadResult; knee: LoadResult } {
  const pool = healthyRuns(runs);
  const best = pool.reduce((a, b) => (goodput(b) > goodput(a) ? b : a));
  return { best, knee: pool.find((r) => goodput(r) >= 0.95 * goodput(best))! };
}

export async function runOverload(opts: OverloadOptions): Promise<OverloadReport> {
  const workload = opts.workload ?? (existsSync(join(BENCH, 'catalog.arrow')) ? 'bench' : 'demo');
  const configs = await configsFor(workload);
  const make = workload === 'bench' ? benchRequests('complimentary_items') : (i: number) => ({ method: 'POST', path: '/pipelines/complimentary_items', body: `{"client_id":${1 + (i % 200)},"product_id":${1 + (i % 100)}}` });
  const client = opts.client ?? 'raw';
  const cores = opts.pin === false ? undefined : splitCores(availableParallelism());
  if (cores) execFileSync('taskset', ['-a', '-p', '-c', cores.generator, String(process.pid)], { stdio: 'ignore' });
  const engineOpts = { configs, ...(opts.threads ? { threads: opts.threads } : {}), ...(cores ? { cpus: cores.engine } : {}) };
  // The engine's default: a worker per core it may use.
  const threads = opts.threads ?? cores?.engineCores ?? availableParallelism();
  // The peak is what the engine sustains with its default admission (a queue wait of up to 1 s):
  // the best closed-loop throughput with at most 1 % errors. Measured on the engine started with
  // the tight limit, the refused part of a closed loop comes straight back and the peak reads low.
  // Up to 64 in flight: on its own core, an engine fed by 8 at a time sat idle between answers
  // (381 req/s at 8, where the same engine then served 727 at 2x).
  const peakSrv = await startEngine(engineOpts);
  let peak: LoadResult;
  let knee: LoadResult;
  try {
    ({ best: peak, knee } = peakOf((await findPeak({ url: peakSrv.url, makeRequest: make, check: okItems, pid: peakSrv.pid, client, durationS: Math.max(3, opts.durationS / 2), warmupS: 1, initialWarmupS: 3, concurrencies: [4, 8, 16, 32, 64] })).runs));
  } finally {
    await peakSrv.close();
  }
  const srv = await startEngine({ ...engineOpts, env: { AIRMAIL_MAX_QUEUE_WAIT_MS: String(opts.maxQueueWaitMs ?? 10) } });
  try {
    const rate = Math.round(goodput(peak) * (opts.factor ?? 2));
    // Unmeasured warm-up as long as the peak's series (a fresh engine's workers build their indexes
    // and its code is not yet optimised), at the peak's concurrency, then 2x.
    await runClosedLoop({ url: srv.url, makeRequest: make, client, concurrency: peak.concurrency ?? 8, durationS: 3 + 3 * (1 + Math.max(3, opts.durationS / 2)) });
    const run = await runOpenLoop({ url: srv.url, makeRequest: make, check: okItems, pid: srv.pid, client, rate, durationS: opts.durationS, warmupS: 1, maxOutstanding: 2000, connections: 512 });
    const goodputRps = goodput(run);
    return {
      client,
      threads,
      ...(cores ? { cores: { engine: cores.engine, generator: cores.generator } } : {}),
      maxQueueWaitMs: opts.maxQueueWaitMs ?? 10,
      peak: { rps: goodput(peak), p99: knee.goodLatencyMs.p99, concurrency: peak.concurrency ?? 0, kneeConcurrency: knee.concurrency ?? 0, clientCpuPercent: peak.clientCpuPercent, serverCpuPercent: peak.server?.cpuPercent ?? NaN },
      offeredRps: rate,
      goodputRps,
      accepted: { p50: run.goodLatencyMs.p50, p99: run.goodLatencyMs.p99 },
      rejected: { p99: run.otherLatencyMs.p99 },
      statuses: { ...run.statusCounts, ...run.errorCodes, ...(run.errors.dropped ? { dropped: run.errors.dropped } : {}), ...(run.errors.check ? { wrong: run.errors.check } : {}) },
      clientCpuPercent: run.clientCpuPercent,
      serverCpuPercent: run.server?.cpuPercent ?? NaN,
      goodputOk: goodputRps >= 0.9 * goodput(peak),
      // "Keep their p99": within 1.5x of the knee's (closed-loop) p99, plus 10 ms of timer noise.
      p99Ok: run.goodLatencyMs.p99 <= 1.5 * knee.goodLatencyMs.p99 + 10,
    };
  } finally {
    await srv.close();
  }
}

const ratio = (r: OverloadReport): number => r.goodputRps / r.peak.rps;

/** A series of runs: on a shared machine one run says little (goodput / peak moved 0.37–0.97 within an hour). */
export interface OverloadSeries {
  readonly runs: readonly OverloadReport[];
  readonly goodputRatio: { readonly median: number; readonly min: number; readonly max: number };
  readonly goodputOkRuns: number;
  readonly p99OkRuns: number;
  readonly bothOkRuns: number;
}

export function summarize(runs: readonly OverloadReport[]): OverloadSeries {
  const sorted = runs.map(ratio).sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return {
    runs,
    goodputRatio: { median, min: sorted[0]!, max: sorted[sorted.length - 1]! },
    goodputOkRuns: runs.filter((r) => r.goodputOk).length,
    p99OkRuns: runs.filter((r) => r.p99Ok).length,
    bothOkRuns: runs.filter((r) => r.goodputOk && r.p99Ok).length,
  };
}

export function formatOverload(s: OverloadSeries): string {
  const cpu = (c: number, v: number): string => `client ${c.toFixed(0)} %, server ${v.toFixed(0)} %`;
  const r0 = s.runs[0]!;
  const n = s.runs.length;
  return [
    '## Overload (2x the peak)',
    '',
    '| run | peak rps (in flight) | knee p99 ms (in flight) | offered rps | goodput rps | goodput / peak | accepted p50 ms | accepted p99 ms | p99 limit ms | refused p99 ms | CPU at peak → at 2x | statuses |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...s.runs.map((r, i) => `| ${i + 1} | ${r.peak.rps.toFixed(0)} (${r.peak.concurrency}) | ${r.peak.p99.toFixed(1)} (${r.peak.kneeConcurrency}) | ${r.offeredRps} | ${r.goodputRps.toFixed(0)} | ${ratio(r).toFixed(2)}${r.goodputOk ? '' : ' ✗'} | ${r.accepted.p50.toFixed(1)} | ${r.accepted.p99.toFixed(1)}${r.p99Ok ? '' : ' ✗'} | ${(1.5 * r.peak.p99 + 10).toFixed(1)} | ${r.rejected.p99.toFixed(1)} | ${cpu(r.peak.clientCpuPercent, r.peak.serverCpuPercent)} → ${cpu(r.clientCpuPercent, r.serverCpuPercent)} | ${JSON.stringify(r.statuses)} |`),
    '',
    `${r0.cores ? `Engine on cores ${r0.cores.engine}, generator on ${r0.cores.generator} (taskset). ` : 'Engine and generator sharing every core. '}${r0.threads} worker threads, --max-queue-wait-ms ${r0.maxQueueWaitMs}, ${r0.client} generator; CPU 100 % = one core. Knee: the first run at 95 % of the peak; p99 limit: 1.5x its p99 + 10 ms.`,
    '',
    `goodput / peak over ${n} run${n > 1 ? 's' : ''}: median ${s.goodputRatio.median.toFixed(2)} (${s.goodputRatio.min.toFixed(2)}–${s.goodputRatio.max.toFixed(2)}); goodput ≥ 90 % of peak in ${s.goodputOkRuns}/${n}, accepted p99 kept in ${s.p99OkRuns}/${n}, both in ${s.bothOkRuns}/${n}`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' }, runs: { type: 'string', default: '1' }, workload: { type: 'string' }, 'max-queue-wait-ms': { type: 'string' }, threads: { type: 'string' }, 'no-pin': { type: 'boolean' }, client: { type: 'string' }, json: { type: 'string' } } });
  const runs: OverloadReport[] = [];
  for (let i = 0; i < Math.max(1, Number(values.runs)); i++) {
    runs.push(await runOverload({
      durationS: Number(values.duration),
      ...(values.workload ? { workload: values.workload as 'bench' | 'demo' } : {}),
      ...(values['max-queue-wait-ms'] ? { maxQueueWaitMs: Number(values['max-queue-wait-ms']) } : {}),
      ...(values.threads ? { threads: Number(values.threads) } : {}),
      ...(values['no-pin'] ? { pin: false } : {}),
      ...(values.client ? { client: values.client === 'undici' ? 'undici' : 'raw' } : {}),
    }));
    process.stderr.write(`run ${i + 1}: goodput / peak ${ratio(runs[i]!).toFixed(2)}, accepted p99 ${runs[i]!.accepted.p99.toFixed(1)} ms\n`);
  }
  const series = summarize(runs);
  process.stdout.write(`${formatOverload(series)}\n`);
  if (values.json) await writeFile(values.json, `${JSON.stringify(series, null, 2)}\n`);
  // Met when the median run keeps 90 % of the peak and most runs keep the p99.
  process.exit(series.goodputRatio.median >= 0.9 && series.p99OkRuns * 2 > runs.length ? 0 : 1);
}
