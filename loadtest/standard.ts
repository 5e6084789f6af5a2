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
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { bareHonoScenario, runScenarios, type Scenario } from './runner.js';
import { BENCH, BENCH_CONFIGS, benchRequests, checkExpectations, engineScenario, memoryByWorkers } from './scenarios.js';
import { extraScenarios } from './scenarios-extra.js';
import { reportName, targetLines, writeReport } from './report.js';

const { values: v } = parseArgs({
  options: {
    only: { type: 'string' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    'initial-warmup': { type: 'string', default: '5' },
    rate: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '16,32,64' },
    threads: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});

// Decided before the run: a bad --out fails now, not after ten minutes of load.
const outName = reportName({ only: v.only, out: v.out });

if (!existsSync(BENCH)) {
  process.stderr.write(`the standard workload is missing: ${BENCH} (see ../shared/bench/README.md)\n`);
  process.exit(2);
}

const threads = v.threads ? Number(v.threads) : cpus().length;
const notes: string[] = [`engine worker threads: ${threads} (one per core)`];
const all: Record<string, Scenario> = {
  gbdt: engineScenario({ name: 'complimentary_items (GBDT)', configs: BENCH_CONFIGS, threads, makeRequest: benchRequests('complimentary_items'), verify: (url) => checkExpectations(url, 'complimentary_items'), notes }),
  mlp: engineScenario({ name: 'complimentary_items (MLP)', configs: BENCH_CONFIGS, threads, makeRequest: benchRequests('complimentary_items_mlp') }),
  trivial: engineScenario({ name: 'trivial (Static 100 → Sort → Limit 10)', configs: BENCH_CONFIGS, threads, makeRequest: () => ({ method: 'POST', path: '/pipelines/trivial', body: '{}' }) }),
  ...extraScenarios({ threads, notes }),
};
const only = v.only ? v.only.split(',').map((s) => s.trim()) : Object.keys(all);
for (const name of only) if (!all[name] && name !== 'memory') throw new Error(`unknown scenario '${name}'; known: ${Object.keys(all).join(', ')}, memory`);

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
  concurrencies: v.concurrency!.split(',').map(Number),
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
