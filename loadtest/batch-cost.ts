/**
 * What a batch saves: the engine's CPU per answered request when requests come one per HTTP call
 * (8 connections, closed loop) and when they come in batches of --batch (POST /pipelines/NAME/batch,
 * 2 connections), on the standard workload. One worker; the modes alternate, each round on a fresh
 * engine that first answers a warm-up of 1,500 requests, so a drift of the shared machine falls on
 * both. CPU time of the engine process's threads from /proc (as observe-cost.ts): the main thread
 * (HTTP, parsing, checks, the hand-off), the worker (the pipeline) and the rest (GC, compiler).
 *
 *   npm run build && npx tsx loadtest/batch-cost.ts [--requests 3000] [--rounds 3] [--batch 100]
 */
import { Pool } from 'undici';
import { cli } from './args.js';
import { BENCH_CONFIGS, benchRequests, requireBench, startEngine } from './scenarios.js';
import { cpuPerRequest, type ThreadCost } from './thread-cpu.js';

const opts = cli('npx tsx loadtest/batch-cost.ts', 'CPU per request: single requests vs batches (standard workload, GBDT).', {
  requests: { type: 'string', default: '3000', help: 'measured requests per mode and round', number: { min: 100, integer: true } },
  rounds: { type: 'string', default: '3', help: 'rounds; each runs both modes, in turn', number: { min: 1, integer: true } },
  batch: { type: 'string', default: '100', help: 'requests per batch', number: { min: 2, integer: true } },
});
requireBench('npx tsx loadtest/batch-cost.ts');

type Mode = 'single' | 'batch';
type Sample = ThreadCost;
const size = Number(opts.batch);
const make = benchRequests('complimentary_items');

async function measure(mode: Mode, n: number): Promise<Sample> {
  const engine = await startEngine({ configs: BENCH_CONFIGS, threads: 1, env: { AIRMAIL_LOG_LEVEL: 'warn' } });
  const pool = new Pool(engine.url, { connections: 8 });
  const send = async (path: string, body: string): Promise<string> => {
    const res = await pool.request({ method: 'POST', path, body, headers: { 'content-type': 'application/json' } });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${mode}: status ${res.statusCode}: ${text.slice(0, 200)}`);
    return text;
  };
  const run = async (count: number, from: number): Promise<void> => {
    let i = 0;
    if (mode === 'single') {
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (i < count) await send('/pipelines/complimentary_items', make(from + i++).body as string);
      }));
      return;
    }
    await Promise.all(Array.from({ length: 2 }, async () => {
      while (i < count) {
        const k = Math.min(size, count - i);
        const elements = Array.from({ length: k }, () => make(from + i++).body as string);
        const answer = JSON.parse(await send('/pipelines/complimentary_items/batch', `{"requests":[${elements.join(',')}]}`)) as { failed: number };
        if (answer.failed > 0) throw new Error(`batch: ${answer.failed} elements failed`);
      }
    }));
  };
  try {
    await run(1500, 0);
    return await cpuPerRequest(engine.pid, n, () => run(n, 1_000_000));
  } finally {
    await pool.close();
    await engine.close();
  }
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const n = Number(opts.requests);
const samples: Record<Mode, Sample[]> = { single: [], batch: [] };
for (let round = 0; round < Number(opts.rounds); round++) {
  for (const mode of ['single', 'batch'] as const) {
    const s = await measure(mode, n);
    samples[mode].push(s);
    process.stderr.write(`round ${round + 1} ${mode}: main ${s.main.toFixed(0)} µs, worker ${s.worker.toFixed(0)} µs, rest ${s.rest.toFixed(0)} µs per request, ${s.rps.toFixed(0)} req/s\n`);
  }
}
const total = (s: Sample): number => s.main + s.worker + s.rest;
console.log('| mode | main thread µs/req | worker µs/req | other threads µs/req | total µs/req | req/s |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const mode of ['single', 'batch'] as const) {
  const ss = samples[mode];
  console.log(`| ${mode === 'batch' ? `batches of ${size}` : 'single requests'} | ${median(ss.map((s) => s.main)).toFixed(0)} | ${median(ss.map((s) => s.worker)).toFixed(0)} | ${median(ss.map((s) => s.rest)).toFixed(0)} | ${median(ss.map(total)).toFixed(0)} | ${median(ss.map((s) => s.rps)).toFixed(0)} |`);
}
console.log(`\ncomplimentary_items (GBDT): ${n} requests per mode and round, ${opts.rounds} rounds (medians); one worker.`);
