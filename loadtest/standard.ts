/**
 * The standard load test: every scenario of the performance issue on the
 * standard workload, one command, one committed report.
 *
 *   npm run loadtest                       # everything (about 10 minutes)
 *   npm run loadtest -- --only gbdt,mlp    # some scenarios
 *   npm run loadtest -- --duration 5       # shorter runs
 *   npm run loadtest -- --only observe-off,observe-on --repeat 3
 *                                          # interleaved rounds (the floor in each); targets use medians
 *
 * Writes loadtest/results/latest.{json,md} (with --only: partial.{json,md},
 * or --out NAME for NAME.{json,md}): the floor (a bare Hono server),
 * each scenario's closed-loop peak search and open loop at --rate, server CPU
 * and RSS, the checks against the expectations, and each target met or missed.
 */
import { cpus } from 'node:os';
import { cli, type CliOptions } from './args.js';
import { bareHonoScenario, runScenarios, type Scenario } from './runner.js';
import { BENCH_CONFIGS, benchRequests, checkExpectations, engineBuild, engineScenario, memoryByWorkers, requireBench } from './scenarios.js';
import { extraScenarios } from './scenarios-extra.js';
import { reportName, targetLines, writeReport } from './report.js';

const STANDARD_OPTIONS = {
  only: { type: 'string', value: 'LIST', help: 'comma-separated scenarios: gbdt, mlp, trivial, upstream-local, upstream-redis, observe-off, observe-on, memory (default: all; a partial run writes partial.{md,json})' },
  duration: { type: 'string', default: '10', number: { min: 0.1 }, help: 'seconds each measured run lasts' },
  warmup: { type: 'string', default: '2', number: { min: 0 }, help: 'seconds of warm-up before each run' },
  'initial-warmup': { type: 'string', default: '5', number: { min: 0 }, help: 'seconds of warm-up when a server has just started' },
  rate: { type: 'string', default: '500', number: { min: 1 }, help: 'open-loop arrival rate, requests/s' },
  concurrency: { type: 'string', default: '16,32,64', number: { min: 1, integer: true, list: true }, help: 'closed-loop concurrencies of the peak search' },
  threads: { type: 'string', number: { min: 1, integer: true }, help: 'engine worker threads (default: one per core)' },
  repeat: { type: 'string', default: '1', number: { min: 1, integer: true }, help: 'interleaved rounds (the floor in each); targets use each side\'s median' },
  out: { type: 'string', value: 'NAME', help: 'write loadtest/results/NAME.{md,json}' },
} as const satisfies CliOptions;

const v = cli('npm run loadtest --', 'Every scenario of the standard workload, and the bare Hono floor; writes loadtest/results/latest.{md,json}.', STANDARD_OPTIONS);

// Decided before the run: a bad --out fails now, not after ten minutes of load (and in one line, not a stack trace).
let outName: string;
try {
  outName = reportName({ only: v.only, out: v.out });
} catch (err) {
  process.stderr.write(`npm run loadtest --: ${(err as Error).message}\nrun with --help for the options\n`);
  process.exit(2);
}

requireBench('npm run loadtest --');

const threads = v.threads ? Number(v.threads) : cpus().length;
const build = engineBuild();
if (build.stale) process.stderr.write(`warning: ${build.note}\n`);
const notes: string[] = [`engine worker threads: ${threads} (one per core)`, build.note];
const all: Record<string, Scenario> = {
  gbdt: engineScenario({ name: 'complimentary_items (GBDT)', configs: BENCH_CONFIGS, threads, makeRequest: benchRequests('complimentary_items'), verify: (url) => checkExpectations(url, 'complimentary_items'), notes }),
  mlp: engineScenario({ name: 'complimentary_items (MLP)', configs: BENCH_CONFIGS, threads, makeRequest: benchRequests('complimentary_items_mlp') }),
  trivial: engineScenario({ name: 'trivial (Static 100 → Sort → Limit 10)', configs: BENCH_CONFIGS, threads, makeRequest: () => ({ method: 'POST', path: '/pipelines/trivial', body: '{}' }) }),
  ...extraScenarios({ threads, notes }),
};
const only = v.only ? v.only.split(',').map((s) => s.trim()) : Object.keys(all);
for (const name of only) {
  if (all[name] || name === 'memory') continue;
  process.stderr.write(`npm run loadtest --: unknown scenario '${name}' in --only; known: ${Object.keys(all).join(', ')}, memory\n`);
  process.exit(2);
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);
if (only.includes('memory') || !v.only) {
  const mem = await memoryByWorkers([1, 2, 4]);
  notes.push(`memory (RSS after 400 requests, standard workload loaded): ${mem.map((m) => `${m.workers} worker(s) ${m.rssMb} MB`).join(', ')}; target: under 600 MB with one worker per core, and workers must not copy the datasets`);
  log(notes.at(-1)!);
}

// Repeated rounds run interleaved (A B A B ...), so drift on a shared machine lands on both sides of a comparison.
const rounds = Math.max(1, Number(v.repeat));
const selected = only.filter((n) => all[n]).map((n) => all[n]!);
// The floor runs in every round too (the first before the scenarios), and targets use its median like any scenario's.
const run = await runScenarios(Array.from({ length: rounds }, (_, i) => (i === 0 ? selected : [bareHonoScenario(), ...selected])).flat(), {
  concurrencies: v.concurrency.split(',').map(Number),
  rate: Number(v.rate),
  durationS: Number(v.duration),
  warmupS: Number(v.warmup),
  initialWarmupS: Number(v['initial-warmup']),
  command: `npm run loadtest${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  notes,
  log,
  write: false,
});

(run.report.notes ??= []).push(...targetLines(run.results));
const paths = await writeReport(run.report, undefined, outName);
log(`wrote ${paths.mdPath}`);
for (const n of run.report.notes ?? []) log(n);
