/**
 * What the model alone allows: the standard workload's models scored on 2,200
 * candidate rows (what complimentary_items scores per request, after the
 * department filter) in onnxruntime, with nothing else running — no HTTP, no
 * pipeline — on 1 and on 2 threads at once. It bounds the peak of the model
 * scenarios from above: a served request costs at least the model's share of
 * a core plus what the cheapest pipeline costs served (the trivial scenario
 * of loadtest/results/latest.json, whose peak includes the load generator).
 *
 *   node --import tsx loadtest/model-bound.ts [--seconds 5] [--rows 2200]
 *
 * Writes loadtest/results/model-bound.{md,json}.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { cli } from './args.js';
import { requireBench } from './scenarios.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = join(ROOT, '../shared/bench');
const OUT = join(ROOT, 'loadtest/results');

const v = cli('node --import tsx loadtest/model-bound.ts', 'The standard workload\'s models alone in onnxruntime on 1 and 2 threads; writes loadtest/results/model-bound.{md,json}.', {
  seconds: { type: 'string', default: '5', number: { min: 0.1 }, help: 'seconds per model and thread count' },
  rows: { type: 'string', default: '2200', number: { min: 1, integer: true }, help: 'candidate rows per run' },
});
const seconds = Number(v.seconds);
const rows = Number(v.rows);
requireBench('node --import tsx loadtest/model-bound.ts', BENCH, ['psale_mlp.onnx', 'psale_gbdt.onnx']);

// Each thread: one session (one intra-op thread, as the engine runs them), the same input, runs for `seconds`.
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const ort = require(workerData.ort);
const fs = require('node:fs');
(async () => {
  const s = await ort.InferenceSession.create(fs.readFileSync(workerData.model), { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  const x = new Float32Array(workerData.rows * 24);
  let seed = 7;
  for (let i = 0; i < x.length; i++) x[i] = ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
  const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', x, [workerData.rows, 24]) };
  for (let i = 0; i < 50; i++) await s.run(feeds);
  parentPort.postMessage('ready');
  await new Promise((r) => parentPort.once('message', r));
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < workerData.seconds * 1000) { await s.run(feeds); n++; }
  parentPort.postMessage({ n, ms: performance.now() - t0 });
})();
`;

interface Row { model: string; threads: number; runsPerS: number; msPerRun: number }

async function measure(model: string, threads: number): Promise<Row> {
  const ws = Array.from({ length: threads }, () => new Worker(WORKER, { eval: true, workerData: { ort: require_resolve('onnxruntime-node'), model: join(BENCH, model), rows, seconds } }));
  await Promise.all(ws.map((w) => new Promise((r) => w.once('message', r))));
  const done = ws.map((w) => new Promise<{ n: number; ms: number }>((r) => w.once('message', r)));
  for (const w of ws) w.postMessage('go');
  const res = await Promise.all(done);
  await Promise.all(ws.map((w) => w.terminate()));
  const runs = res.reduce((a, r) => a + r.n, 0);
  const ms = Math.max(...res.map((r) => r.ms));
  return { model, threads, runsPerS: (runs / ms) * 1000, msPerRun: (ms * threads) / runs };
}

function require_resolve(m: string): string {
  return fileURLToPath(import.meta.resolve(m));
}

const out: Row[] = [];
for (const model of ['psale_mlp.onnx', 'psale_gbdt.onnx']) for (const threads of [1, 2]) out.push(await measure(model, threads));

// The cheapest served pipeline, generator included, from the latest load test.
let trivial: number | undefined;
try {
  const latest = JSON.parse(readFileSync(join(OUT, 'latest.json'), 'utf8')) as { rows: { scenario: string; peak?: boolean; result: { rps: number } }[] };
  trivial = latest.rows.find((r) => r.scenario.startsWith('trivial') && r.peak)?.result.rps;
} catch {
  trivial = undefined;
}
const mlp2 = out.find((r) => r.model === 'psale_mlp.onnx' && r.threads === 2)!;
const bound = trivial ? 1 / (1 / mlp2.runsPerS + 1 / trivial) : undefined;

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; 1-min load average ${loadavg()[0]!.toFixed(1)} before the run`;
const md = [
  '# The model alone: onnxruntime on the standard workload',
  '',
  `- Date: ${new Date().toISOString()}`,
  `- Machine: ${machine}`,
  `- Reproduce: \`node --import tsx loadtest/model-bound.ts --seconds ${seconds} --rows ${rows}\``,
  '',
  `${rows} rows × 24 features per run (one request's candidates after the department filter), one intra-op thread per session, each thread its own session.`,
  '',
  '| model | threads | runs/s (all threads) | ms of a thread per run |',
  '|---|---:|---:|---:|',
  ...out.map((r) => `| ${r.model} | ${r.threads} | ${r.runsPerS.toFixed(0)} | ${r.msPerRun.toFixed(3)} |`),
  '',
  trivial && bound
    ? `Bound for complimentary_items with the MLP: the two cores give the model ${mlp2.runsPerS.toFixed(0)} runs/s with nothing else running, and the cheapest served pipeline (trivial, load generator included) peaks at ${trivial.toFixed(0)} req/s; a request that needs both costs at least 1 / (1/${mlp2.runsPerS.toFixed(0)} + 1/${trivial.toFixed(0)}) = **${bound.toFixed(0)} req/s** here, before the rest of the pipeline (candidates, filters, diversity) is counted. The target is 2,400.`
    : 'Run the standard load test first (loadtest/results/latest.json) for the bound that combines the model with the cheapest served pipeline.',
  '',
];
writeFileSync(join(OUT, 'model-bound.md'), md.join('\n'));
writeFileSync(join(OUT, 'model-bound.json'), `${JSON.stringify({ date: new Date().toISOString(), machine, rows, seconds, results: out, trivialPeak: trivial ?? null, mlpBound: bound ?? null }, null, 2)}\n`);
process.stdout.write(md.join('\n'));
