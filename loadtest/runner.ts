/**
 * Scenarios and the runner that measures them. A scenario sets up a target
 * (start a server, load a config) and says how to build its requests; the
 * runner measures the bare Hono floor first, then each scenario with a
 * closed-loop peak search and an open loop at a fixed rate, and writes the
 * report. Engine scenarios live in loadtest/scenarios.ts.
 */
import { startBareHono } from './bare-hono.js';
import { findPeak, runOpenLoop } from './generator.js';
import type { CheckResponse, LoadResult, MakeRequest, PeakResult, RequestSpec } from './generator.js';
import { machineInfo, writeReport } from './report.js';
import type { Report, ReportRow } from './report.js';

export interface ScenarioTarget {
  /** Target URL (its origin is used; request paths come from makeRequest). */
  url: string;
  /** Server process to sample for CPU and RSS. */
  pid?: number;
  makeRequest: MakeRequest;
  check?: CheckResponse;
  teardown(): Promise<void>;
}

export interface Scenario {
  name: string;
  setup(): Promise<ScenarioTarget>;
}

export interface RunScenariosOptions {
  /** Closed-loop peak search series (default 8, 16, 32, 64). */
  concurrencies?: readonly number[];
  /** Open-loop arrival rate, req/s, the same for every scenario so p99s compare (default 500; 0 skips the open loop). */
  rate?: number;
  /** Measured seconds per run (default 10). */
  durationS?: number;
  /** Unmeasured seconds before each run (default 2). */
  warmupS?: number;
  /** Unmeasured seconds once per scenario before its first run, for JIT warm-up (default 10). */
  initialWarmupS?: number;
  /** Measure the bare Hono floor first (default true). */
  floor?: boolean;
  /** Requests sent to the floor (default: POST /pipelines/floor with a varying client_id). */
  floorRequest?: MakeRequest;
  maxOutstanding?: number;
  timeoutMs?: number;
  /** Write the report, `outName`.{json,md} in `outDir` (default true). */
  write?: boolean;
  outDir?: string;
  /** The report's file name without extension (default `latest`, the committed report: see reportName). */
  outName?: string;
  /** The command line that reproduces the run, for the report. */
  command: string;
  notes?: string[];
  log?: (line: string) => void;
}

export interface ScenarioResult {
  name: string;
  peak?: PeakResult;
  open?: LoadResult;
  /** Set when setup or a run threw; the other scenarios still run. */
  error?: string;
}

export interface RunScenariosResult {
  results: ScenarioResult[];
  report: Report;
  paths?: { jsonPath: string; mdPath: string };
}

export const FLOOR_SCENARIO_NAME = 'bare-hono (floor)';

/** A request body like a pipeline call's: a JSON object with a client id that varies. */
export const defaultFloorRequest: MakeRequest = (i: number): RequestSpec => ({
  method: 'POST',
  path: '/pipelines/floor',
  body: `{"client_id":${i % 10_000}}`,
});

/** The floor as a scenario: a bare Hono server in a child process. */
export function bareHonoScenario(makeRequest: MakeRequest = defaultFloorRequest): Scenario {
  return {
    name: FLOOR_SCENARIO_NAME,
    async setup(): Promise<ScenarioTarget> {
      const server = await startBareHono(0);
      return {
        url: server.url,
        pid: server.pid,
        makeRequest,
        check: (status, body) => status === 200 && Array.isArray((body as { items?: unknown }).items),
        teardown: () => server.close(),
      };
    },
  };
}

/** An already-running server as a scenario (nothing to start or stop). */
export function urlScenario(name: string, target: Omit<ScenarioTarget, 'teardown'>): Scenario {
  return { name, setup: async () => ({ ...target, teardown: async () => {} }) };
}

async function measure(scenario: Scenario, opts: RunScenariosOptions): Promise<ScenarioResult> {
  const log = opts.log ?? (() => {});
  let target: ScenarioTarget | undefined;
  const out: ScenarioResult = { name: scenario.name };
  try {
    target = await scenario.setup();
    const common = {
      url: target.url,
      pid: target.pid,
      makeRequest: target.makeRequest,
      check: target.check,
      durationS: opts.durationS ?? 10,
      warmupS: opts.warmupS ?? 2,
      timeoutMs: opts.timeoutMs,
    };
    log(`${scenario.name}: closed-loop peak search`);
    out.peak = await findPeak({ ...common, concurrencies: opts.concurrencies ?? [8, 16, 32, 64], initialWarmupS: opts.initialWarmupS ?? 10 });
    for (const r of out.peak.runs) log(`  c=${r.concurrency}: ${r.rps} req/s, p99 ${r.latencyMs.p99} ms, errors ${r.errorCount}`);
    const rate = opts.rate ?? 500;
    if (rate > 0) {
      log(`${scenario.name}: open loop at ${rate}/s`);
      out.open = await runOpenLoop({ ...common, rate, maxOutstanding: opts.maxOutstanding });
      log(`  ${out.open.rps} req/s, p50 ${out.open.latencyMs.p50} ms, p99 ${out.open.latencyMs.p99} ms, errors ${out.open.errorCount}`);
    }
  } catch (err) {
    out.error = err instanceof Error ? err.message : String(err);
    log(`${scenario.name}: failed: ${out.error}`);
  } finally {
    await target?.teardown().catch((err: unknown) => log(`${scenario.name}: teardown failed: ${String(err)}`));
  }
  return out;
}

/** Report rows with "vs floor" ratios against `floor` (when measured). */
export function reportRows(results: readonly ScenarioResult[], floor?: ScenarioResult): ReportRow[] {
  const rows: ReportRow[] = [];
  for (const s of results) {
    const isFloor = s === floor;
    for (const r of s.peak?.runs ?? []) {
      const peak = r === s.peak?.best;
      const row: ReportRow = { scenario: s.name, result: r, peak };
      if (peak && !isFloor && floor?.peak && floor.peak.best.rps > 0) row.vsFloor = { kind: 'rps', ratio: r.rps / floor.peak.best.rps };
      rows.push(row);
    }
    if (s.open) {
      const row: ReportRow = { scenario: s.name, result: s.open };
      const base = floor?.open;
      if (!isFloor && base && base.rate === s.open.rate && base.latencyMs.p99 > 0) row.vsFloor = { kind: 'p99', ratio: s.open.latencyMs.p99 / base.latencyMs.p99 };
      rows.push(row);
    }
  }
  return rows;
}

/** Measures the floor (unless `floor: false`), then each scenario in turn, and writes the report. */
export async function runScenarios(scenarios: readonly Scenario[], opts: RunScenariosOptions): Promise<RunScenariosResult> {
  const machine = machineInfo();
  const results: ScenarioResult[] = [];
  const floor = opts.floor === false ? undefined : await measure(bareHonoScenario(opts.floorRequest), opts);
  if (floor) results.push(floor);
  for (const s of scenarios) results.push(await measure(s, opts));
  const notes = [...(opts.notes ?? [])];
  for (const r of results) if (r.error) notes.push(`${r.name} failed: ${r.error}`);
  const report: Report = { machine, command: opts.command, rows: reportRows(results, floor), notes };
  const out: RunScenariosResult = { results, report };
  if (opts.write !== false) out.paths = await writeReport(report, opts.outDir, opts.outName);
  return out;
}
