/**
 * Overload: find the peak (closed loop), then offer twice that rate (open
 * loop) and check that goodput stays at least 90 % of the peak and that the
 * requests the server accepts keep their p99 (the rest are fast 503s).
 *
 *   npx tsx loadtest/overload.ts                         # standard workload, 10 s at 2x
 *   npx tsx loadtest/overload.ts --duration 20 --max-queue-wait-ms 50 --workload demo
 *
 * The engine runs in its own process (`airmail serve`: dist/ when built, so
 * run `npm run build` first, or set AIRMAIL_FROM_SOURCE=1); latency of the open
 * loop counts from each request's intended send time.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { findPeak } from './generator.js';
import { Histogram } from './histogram.js';
import { benchRequests, okItems, startEngine } from './scenarios.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = join(ROOT, '../shared/bench');

export interface OverloadOptions {
  readonly durationS: number;
  readonly workload?: 'bench' | 'demo';
  readonly threads?: number;
  readonly maxQueueWaitMs?: number;
  readonly factor?: number;
}

export interface OverloadReport {
  readonly peak: { readonly rps: number; readonly p99: number; readonly concurrency: number };
  readonly offeredRps: number;
  readonly goodputRps: number;
  readonly accepted: { readonly p50: number; readonly p99: number };
  readonly statuses: Readonly<Record<string, number>>;
  readonly rejected: { readonly p99: number };
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

export async function runOverload(opts: OverloadOptions): Promise<OverloadReport> {
  const workload = opts.workload ?? (existsSync(join(BENCH, 'catalog.arrow')) ? 'bench' : 'demo');
  const srv = await startEngine({ configs: await configsFor(workload), threads: opts.threads ?? 2, env: { AIRMAIL_MAX_QUEUE_WAIT_MS: String(opts.maxQueueWaitMs ?? 50) } });
  const make = workload === 'bench' ? benchRequests('complimentary_items') : (i: number) => ({ method: 'POST', path: '/pipelines/complimentary_items', body: `{"client_id":${1 + (i % 200)},"product_id":${1 + (i % 100)}}` });
  try {
    const peak = (await findPeak({ url: srv.url, makeRequest: make, check: okItems, durationS: Math.max(3, opts.durationS / 2), warmupS: 1, initialWarmupS: 3, concurrencies: [4, 8, 16] })).best;
    const rate = Math.round(peak.rps * (opts.factor ?? 2));
    const pool = new Pool(srv.url, { connections: 256 });
    const accepted = new Histogram();
    const rejected = new Histogram();
    const statuses: Record<string, number> = {};
    const inflight: Promise<void>[] = [];
    const t0 = performance.now();
    const end = t0 + opts.durationS * 1000;
    let i = 0;
    while (performance.now() < end) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const spec = make(i++);
      inflight.push((async () => {
        try {
          const r = await pool.request({ path: spec.path, method: 'POST', headers: { 'content-type': 'application/json' }, body: spec.body ?? '{}' });
          await r.body.dump();
          const ms = performance.now() - due;
          statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
          (r.statusCode === 200 ? accepted : rejected).record(Math.max(1, Math.round(ms * 1000)));
        } catch (err) {
          const k = (err as { code?: string }).code ?? 'error';
          statuses[k] = (statuses[k] ?? 0) + 1;
        }
      })());
    }
    await Promise.all(inflight);
    await pool.close();
    const seconds = (performance.now() - t0) / 1000;
    const goodputRps = (statuses['200'] ?? 0) / seconds;
    const report: OverloadReport = {
      peak: { rps: peak.rps, p99: peak.latencyMs.p99, concurrency: peak.concurrency ?? 0 },
      offeredRps: rate,
      goodputRps,
      accepted: { p50: accepted.percentile(50) / 1000, p99: accepted.percentile(99) / 1000 },
      rejected: { p99: rejected.count ? rejected.percentile(99) / 1000 : 0 },
      statuses,
      goodputOk: goodputRps >= 0.9 * peak.rps,
      // "Keep their p99": within 1.5x of the peak's (closed-loop) p99, plus 10 ms of timer noise.
      p99Ok: accepted.percentile(99) / 1000 <= 1.5 * peak.latencyMs.p99 + 10,
    };
    return report;
  } finally {
    await srv.close();
  }
}

export function formatOverload(r: OverloadReport): string {
  return [
    '## Overload (2x the peak)',
    '',
    '| peak rps | peak p99 ms | offered rps | goodput rps | goodput / peak | accepted p50 ms | accepted p99 ms | 503 p99 ms | statuses |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${r.peak.rps.toFixed(0)} | ${r.peak.p99.toFixed(1)} | ${r.offeredRps} | ${r.goodputRps.toFixed(0)} | ${(r.goodputRps / r.peak.rps).toFixed(2)} | ${r.accepted.p50.toFixed(1)} | ${r.accepted.p99.toFixed(1)} | ${r.rejected.p99.toFixed(1)} | ${JSON.stringify(r.statuses)} |`,
    '',
    `goodput ≥ 90 % of peak: ${r.goodputOk ? 'yes' : 'NO'}; accepted p99 kept: ${r.p99Ok ? 'yes' : 'NO'}`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' }, workload: { type: 'string' }, 'max-queue-wait-ms': { type: 'string' }, threads: { type: 'string' }, json: { type: 'string' } } });
  const r = await runOverload({
    durationS: Number(values.duration),
    ...(values.workload ? { workload: values.workload as 'bench' | 'demo' } : {}),
    ...(values['max-queue-wait-ms'] ? { maxQueueWaitMs: Number(values['max-queue-wait-ms']) } : {}),
    ...(values.threads ? { threads: Number(values.threads) } : {}),
  });
  process.stdout.write(`${formatOverload(r)}\n`);
  if (values.json) await writeFile(values.json, `${JSON.stringify(r, null, 2)}\n`);
  process.exit(r.goodputOk && r.p99Ok ? 0 : 1);
}
