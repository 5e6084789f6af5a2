/**
 * CPU per request of the big retailer's pipelines (loadtest/big-retail.ts), in process: the engine
 * with `threads: 0` runs each pipeline on this thread, `engine.run()` in a loop over seeded inputs,
 * and process.cpuUsage() around the loop. No HTTP, no worker hand-off: what the pipeline's steps
 * cost on data of this size. Rounds alternate the pipelines, so a drift of the shared machine's
 * speed falls on all of them; medians are printed. The digest of every answer is printed too, so
 * two builds can be checked to answer the same.
 *
 *   npx tsx loadtest/big-retail.ts --out /tmp/airmail-big
 *   npx tsx loadtest/big-cost.ts --data /tmp/airmail-big [--requests 2000] [--rounds 3] [--pipelines a,b]
 *
 * Profile one: `node --cpu-prof --cpu-prof-dir /tmp/prof --import tsx loadtest/big-cost.ts ...`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../engine/engine.js';
import { formatDiagnostic } from '../engine/errors.js';
import { builtinOperators } from '../operators/index.js';
import { cli } from './args.js';
import { bigInputs } from './big-retail.js';

const NAMES = ['in_stock_brand', 'exclude_bought', 'exclude_bought_init', 'warehouse_weighted', 'sort_departments', 'diverse_warehouse', 'more_from_brand'];
const opts = cli('npx tsx loadtest/big-cost.ts', "CPU per request of the big retailer's pipelines, in process (threads: 0).", {
  data: { type: 'string', default: '/tmp/airmail-big', help: 'the folder loadtest/big-retail.ts wrote', value: 'DIR' },
  requests: { type: 'string', default: '2000', help: 'measured requests per pipeline and round', number: { min: 1, integer: true } },
  warmup: { type: 'string', default: '300', help: 'unmeasured requests per pipeline before the rounds', number: { min: 0, integer: true } },
  rounds: { type: 'string', default: '3', help: 'rounds; each runs every pipeline once, in turn', number: { min: 1, integer: true } },
  pipelines: { type: 'string', default: NAMES.join(','), help: 'the pipelines to run, comma-separated' },
});

// Checked first: a folder big-retail.ts did not write ended in the engine's stack trace.
if (!existsSync(join(opts.data, 'big.yaml'))) {
  process.stderr.write(`npx tsx loadtest/big-cost.ts: ${opts.data} holds no big retailer (no big.yaml): write it first with npx tsx loadtest/big-retail.ts --out ${opts.data}\n`);
  process.exit(2);
}

const engine = new Engine({ configs: opts.data, operators: builtinOperators, operatorModules: [new URL('../operators/index.ts', import.meta.url).href], threads: 0, watch: false, remote: {} });
const t0 = performance.now();
const problems = await engine.start();
if (problems.length > 0) throw new Error(problems.map(formatDiagnostic).join('\n'));
process.stderr.write(`loaded ${opts.data} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

const names = opts.pipelines.split(',').map((s) => s.trim());
const n = Number(opts.requests);
const samples = new Map<string, number[]>(names.map((p) => [p, []]));
const digests = new Map<string, string>();
const sizes = new Map<string, number>();

async function loop(name: string, from: number, count: number, digest?: ReturnType<typeof createHash>): Promise<number> {
  const p = engine.pipeline(name);
  let items = 0;
  for (let i = from; i < from + count; i++) {
    const res = await engine.run(p, engine.checkInputs(p, bigInputs(name, i), 'json'));
    if (res.error) throw new Error(`${name}: ${JSON.stringify(res.error)}`);
    items += res.items.length;
    digest?.update(JSON.stringify(res.items));
  }
  return items;
}

for (const name of names) await loop(name, 1_000_000, Number(opts.warmup));
for (let round = 0; round < Number(opts.rounds); round++) {
  for (const name of names) {
    const digest = round === 0 ? createHash('sha256') : undefined;
    const c0 = process.cpuUsage();
    // Fresh inputs every round (a served client's answer is memoised): round 1's are the digest's.
    const items = await loop(name, round * n, n, digest);
    const c = process.cpuUsage(c0);
    const us = (c.user + c.system) / n;
    samples.get(name)!.push(us);
    if (digest) { digests.set(name, digest.digest('hex').slice(0, 12)); sizes.set(name, items / n); }
    process.stderr.write(`round ${round + 1} ${name}: ${us.toFixed(0)} µs CPU per request\n`);
  }
}
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log('| pipeline | CPU µs/request (median) | rounds | items/answer | answers digest |');
console.log('|---|---:|---|---:|---|');
for (const name of names) {
  const s = samples.get(name)!;
  console.log(`| ${name} | ${median(s).toFixed(0)} | ${s.map((x) => x.toFixed(0)).join(' / ')} | ${sizes.get(name)!.toFixed(1)} | ${digests.get(name)} |`);
}
console.log(`\n${n} requests per pipeline and round, ${opts.rounds} rounds, after ${opts.warmup} warm-up requests each; in process, threads: 0; AIRMAIL_MEMO_MB=${process.env['AIRMAIL_MEMO_MB'] ?? 'default'}.`);
await engine.close();
