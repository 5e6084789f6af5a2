/**
 * `airmail loadtest` / `node --import tsx loadtest/cli.ts`:
 *
 *   --url URL --mode closed|open|both [--concurrency 32 | 8,16,32,64 (--report default)] [--rate 500]
 *   [--duration 10] [--warmup 2] [--initial-warmup 0] [--method POST] [--body JSON]
 *   [--header 'k: v']... [--pid N] [--connections N] [--max-outstanding N] [--timeout MS]
 *     → one run (or a peak search when --concurrency is a list); prints a JSON summary.
 *   --report [--name NAME] [--url URL ...] [--out DIR] [--report-name NAME]
 *     → the bare Hono floor, then the URL (if given) as a scenario; writes loadtest/results/partial.{json,md}
 *       (git ignores it: latest.* is the committed report of `npm run loadtest`, which this run is not
 *       unless --report-name latest says so).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findPeak, fixedRequest, runClosedLoop, runOpenLoop } from './generator.js';
import type { LoadOptions, LoadResult, RequestSpec } from './generator.js';
import { reportName } from './report.js';
import { runScenarios, urlScenario } from './runner.js';
import type { Scenario } from './runner.js';

export { bareHonoScenario, defaultFloorRequest, reportRows, runScenarios, urlScenario, FLOOR_SCENARIO_NAME } from './runner.js';
export type { RunScenariosOptions, RunScenariosResult, Scenario, ScenarioResult, ScenarioTarget } from './runner.js';
export type { CheckResponse, LoadResult, MakeRequest, RequestSpec } from './generator.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const defaultIo: CliIo = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
};

const OPTIONS = {
  url: { type: 'string' },
  mode: { type: 'string', default: 'closed' },
  concurrency: { type: 'string' },
  rate: { type: 'string', default: '500' },
  duration: { type: 'string', default: '10' },
  warmup: { type: 'string', default: '2' },
  'initial-warmup': { type: 'string' },
  method: { type: 'string' },
  body: { type: 'string' },
  header: { type: 'string', multiple: true },
  pid: { type: 'string' },
  connections: { type: 'string' },
  'max-outstanding': { type: 'string' },
  timeout: { type: 'string' },
  report: { type: 'boolean', default: false },
  name: { type: 'string' },
  out: { type: 'string' },
  'report-name': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

class UsageError extends Error {}

function num(name: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number >= ${min}, got '${value}'`);
  return n;
}

function list(name: string, value: string): number[] {
  const values = value.split(',').map((v) => num(name, v.trim(), 1)!);
  if (values.some((v) => !Number.isInteger(v))) throw new UsageError(`--${name} takes whole numbers, got '${value}'`);
  return values;
}

function headers(values: readonly string[] | undefined): Record<string, string> | undefined {
  if (!values || values.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const h of values) {
    const at = h.indexOf(':');
    if (at <= 0) throw new UsageError(`--header must look like 'name: value', got '${h}'`);
    out[h.slice(0, at).trim()] = h.slice(at + 1).trim();
  }
  return out;
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Parses argv, runs, prints a JSON summary; resolves to the exit code (2 = usage error). */
export async function runLoadtestCli(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  try {
    const { values: v } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false });
    if (v.help) {
      io.out(HELP);
      return 0;
    }
    const mode = v.mode;
    if (mode !== 'closed' && mode !== 'open' && mode !== 'both') throw new UsageError(`--mode must be closed, open or both, got '${mode}'`);
    const concurrencies = list('concurrency', v.concurrency ?? (v.report ? '8,16,32,64' : '32'));
    const rate = num('rate', v.rate)!;
    const durationS = num('duration', v.duration)!;
    const warmupS = num('warmup', v.warmup)!;
    const initialWarmupS = num('initial-warmup', v['initial-warmup']);
    const pid = num('pid', v.pid, 1);
    const init: Omit<RequestSpec, 'path' | 'origin'> = { method: v.method, body: v.body, headers: headers(v.header) };
    if (v.body !== undefined) {
      try {
        JSON.parse(v.body);
      } catch {
        io.err('warning: --body is not JSON; sending it as is');
      }
    }
    if (v['report-name'] !== undefined && !v.report) throw new UsageError('--report-name is for --report');
    if (v.report) {
      // A report of the floor and one URL is a partial run: never over the committed latest.* unless asked.
      let outName = 'partial';
      if (v['report-name'] !== undefined) {
        try {
          outName = reportName({ out: v['report-name'] });
        } catch (err) {
          throw new UsageError((err as Error).message.replace('--out', '--report-name'));
        }
      }
      const scenarios: Scenario[] = [];
      if (v.url) scenarios.push(urlScenario(v.name ?? new URL(v.url).pathname, { url: v.url, pid, makeRequest: fixedRequest(v.url, init) }));
      const run = await runScenarios(scenarios, {
        concurrencies,
        rate,
        durationS,
        warmupS,
        initialWarmupS,
        maxOutstanding: num('max-outstanding', v['max-outstanding'], 1),
        timeoutMs: num('timeout', v.timeout, 1),
        outDir: v.out,
        outName,
        command: `node --import tsx loadtest/cli.ts ${argv.map(shellQuote).join(' ')}`,
        log: io.err,
      });
      io.out(JSON.stringify({ paths: run.paths, results: run.results.map(briefScenario) }, null, 2));
      return run.results.some((r) => r.error) ? 1 : 0;
    }
    if (!v.url) throw new UsageError('--url is required (or --report for the floor alone)');
    const base: LoadOptions = {
      url: v.url,
      makeRequest: fixedRequest(v.url, init),
      durationS,
      warmupS,
      pid,
      timeoutMs: num('timeout', v.timeout, 1),
      connections: num('connections', v.connections, 1),
    };
    const summary: Record<string, unknown> = {};
    if (mode !== 'open') {
      if (concurrencies.length === 1 && !initialWarmupS) summary.closed = await runClosedLoop({ ...base, concurrency: concurrencies[0]! });
      else summary.closed = await findPeak({ ...base, concurrencies, initialWarmupS });
    }
    if (mode !== 'closed') {
      summary.open = await runOpenLoop({ ...base, rate, maxOutstanding: num('max-outstanding', v['max-outstanding'], 1) });
    }
    io.out(JSON.stringify(summary, null, 2));
    return 0;
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: unknown }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      io.err(`${(err as Error).message}\n\n${HELP}`);
      return 2;
    }
    throw err;
  }
}

function briefScenario(s: { name: string; peak?: { best: LoadResult }; open?: LoadResult; error?: string }): Record<string, unknown> {
  const brief = (r: LoadResult | undefined): Record<string, unknown> | undefined =>
    r && { mode: r.mode, concurrency: r.concurrency, rate: r.rate, rps: r.rps, latencyMs: r.latencyMs, errors: r.errorCount, server: r.server, clientCpuPercent: r.clientCpuPercent };
  return { name: s.name, peak: brief(s.peak?.best), open: brief(s.open), error: s.error };
}

const HELP = `usage: loadtest --url URL [--mode closed|open|both] [--concurrency 32|8,16,32,64] [--rate 500]
                [--duration 10] [--warmup 2] [--initial-warmup S] [--method M] [--body JSON]
                [--header 'k: v']... [--pid N] [--connections N] [--max-outstanding N] [--timeout MS]
       loadtest --report [--url URL --name NAME ...] [--out DIR] [--report-name NAME]
                (floor + URL; writes partial.{json,md}, or NAME.{json,md}: latest is the committed report)`;

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  runLoadtestCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
