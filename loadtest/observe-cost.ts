/**
 * Where metrics and tracing cost CPU: the engine's CPU per request, by thread, with them off, with
 * metrics only, and with metrics and every request (or one in ten) traced to a collector stand-in
 * (its own process, as in the observe-on scenario). One
 * worker, a closed loop of 8 connections; per round each mode runs `--requests` after a warm-up, and
 * the modes alternate, so a drift of the machine's speed falls on all of them. CPU time comes from
 * /proc/PID/task/TID/stat: the main thread (HTTP, the hand-off, the request span, the export), the
 * worker (the busiest other thread: running the pipeline, its step spans) and the rest (V8's
 * garbage-collection and compiler threads, libuv's pool). CPU per request, unlike req/s, does not
 * depend on what else the shared machine runs at the time.
 *
 *   npm run build && npx tsx loadtest/observe-cost.ts [--requests 4000] [--rounds 3] [--pipeline complimentary_items_mlp] [--modes off] [--threads 8]
 */
import { Pool } from 'undici';
import { cli } from './args.js';
import { BENCH_CONFIGS, benchRequests, requireBench, startEngine } from './scenarios.js';
import { sinkCollector } from './scenarios-extra.js';
import { cpuPerRequest, type ThreadCost } from './thread-cpu.js';

const opts = cli('npx tsx loadtest/observe-cost.ts', 'CPU per request by thread: metrics and tracing off, metrics only, metrics + tracing of every request, and of one in ten (standard workload; GBDT unless --pipeline says).', {
  requests: { type: 'string', default: '4000', help: 'measured requests per mode and round', number: { min: 100, integer: true } },
  rounds: { type: 'string', default: '3', help: 'rounds; each runs every mode once, in turn', number: { min: 1, integer: true } },
  pipeline: { type: 'string', default: 'complimentary_items', help: 'the bench pipeline to send', choices: ['complimentary_items', 'complimentary_items_mlp'] },
  threads: { type: 'string', default: '1', help: 'engine worker threads (more than one: the worker column sums the busiest that many threads; the main thread\'s share per request is what grows with them)', number: { min: 1, integer: true } },
  modes: { type: 'string', default: 'off,metrics,traced,traced 10 %', help: 'the modes to run, comma-separated (off alone: what a request costs each thread)' },
});
requireBench('npx tsx loadtest/observe-cost.ts');


type Sample = ThreadCost;

const MODES = {
  off: { AIRMAIL_METRICS: '0', AIRMAIL_LOG_LEVEL: 'warn' },
  metrics: { AIRMAIL_METRICS: '1', AIRMAIL_LOG_LEVEL: 'warn' },
  traced: { AIRMAIL_METRICS: '1', AIRMAIL_LOG_LEVEL: 'warn' },
  'traced 10 %': { AIRMAIL_METRICS: '1', AIRMAIL_LOG_LEVEL: 'warn', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
} as const;
type Mode = keyof typeof MODES;

async function measure(mode: Mode, n: number): Promise<Sample> {
  const sink = mode.startsWith('traced') ? await sinkCollector() : undefined;
  const engine = await startEngine({ configs: BENCH_CONFIGS, threads: Number(opts.threads), env: { ...MODES[mode], ...sink?.env } });
  const pool = new Pool(engine.url, { connections: 8 });
  const make = benchRequests(opts.pipeline);
  const run = async (count: number, from: number): Promise<void> => {
    let i = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (i < count) {
        const r = make(from + i++);
        const res = await pool.request({ method: 'POST', path: r.path, body: r.body as string, headers: { 'content-type': 'application/json' } });
        await res.body.dump();
        if (res.statusCode !== 200) throw new Error(`${mode}: status ${res.statusCode}`);
      }
    }));
  };
  try {
    await run(1500, 0);
    return await cpuPerRequest(engine.pid, n, () => run(n, 1_000_000), Number(opts.threads));
  } finally {
    await pool.close();
    await engine.close();
    await sink?.close();
  }
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const n = Number(opts.requests);
const modes = opts.modes.split(',').map((m) => m.trim());
for (const m of modes) {
  if (m in MODES) continue;
  process.stderr.write(`observe-cost: --modes: unknown mode '${m}' (known: ${Object.keys(MODES).join(', ')})\n`);
  process.exit(2);
}
const run = modes as Mode[];
const samples = Object.fromEntries(run.map((m) => [m, [] as Sample[]])) as Record<Mode, Sample[]>;
for (let round = 0; round < Number(opts.rounds); round++) {
  for (const mode of run) {
    const s = await measure(mode, n);
    samples[mode].push(s);
    process.stderr.write(`round ${round + 1} ${mode}: main ${s.main.toFixed(0)} µs, worker ${s.worker.toFixed(0)} µs, rest ${s.rest.toFixed(0)} µs per request, ${s.rps.toFixed(0)} req/s\n`);
  }
}
console.log(`| mode | main thread µs/req | worker µs/req | other threads µs/req | total µs/req | vs off | req/s |`);
console.log(`|---|---:|---:|---:|---:|---:|---:|`);
const total = (s: Sample): number => s.main + s.worker + s.rest;
const offTotal = median((samples.off ?? samples[run[0]!]).map(total));
for (const mode of run) {
  const ss = samples[mode];
  const t = median(ss.map(total));
  console.log(`| ${mode} | ${median(ss.map((s) => s.main)).toFixed(0)} | ${median(ss.map((s) => s.worker)).toFixed(0)} | ${median(ss.map((s) => s.rest)).toFixed(0)} | ${t.toFixed(0)} | ${mode === 'off' || !samples.off ? '' : `${t >= offTotal ? '+' : ''}${(t - offTotal).toFixed(0)} (${t >= offTotal ? '+' : ''}${((100 * (t - offTotal)) / offTotal).toFixed(0)} %)`} | ${median(ss.map((s) => s.rps)).toFixed(0)} |`);
}
console.log(`\n${opts.pipeline}: ${n} requests per mode and round, ${opts.rounds} rounds (medians); ${opts.threads === '1' ? 'one worker' : `${opts.threads} workers`}; 8 connections.`);
