/**
 * Stalls: where an open loop's tail comes from. Sends the standard workload at a fixed rate,
 * records each request's latency (from its due time) and prints the stretches in which requests
 * were slow, next to the full (mark-compact) collections the engine's threads ran, read from V8's
 * --trace-gc on the engine's stdout. A closed loop hides such stretches (only the requests in
 * flight wait); an open loop shows every request that came due during one.
 *
 *   npm run build && npx tsx loadtest/stalls.ts --rate 900 --duration 10
 *   npx tsx loadtest/stalls.ts --rate 900 --node-flags=--single-threaded-gc   # flags for the engine's node
 *
 * The engine runs on the first core with one worker and this process on the last (taskset), as in
 * overload.ts.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { runClosedLoop } from './generator.js';
import { configsFor } from './overload.js';
import { RawClient } from './raw-client.js';
import { benchRequests, requireBench, startEngine } from './scenarios.js';
import { cli } from './args.js';

/** A run of slow requests: from the first one's due time to the last one's, and the worst latency. */
export interface Stretch {
  readonly fromMs: number;
  readonly toMs: number;
  readonly count: number;
  readonly worstMs: number;
}

/**
 * Slow requests (latency over `slowMs`; `[dueMs, latencyMs]`, any order) grouped into stretches:
 * one whose due time is within `gapMs` of the stretch before it joins that stretch.
 */
export function stretches(samples: readonly (readonly [number, number])[], slowMs: number, gapMs: number): Stretch[] {
  const out: { fromMs: number; toMs: number; count: number; worstMs: number }[] = [];
  for (const [due, ms] of [...samples].filter(([, ms]) => ms > slowMs).sort((a, b) => a[0] - b[0])) {
    const last = out.at(-1);
    if (last && due - last.toMs <= gapMs) {
      last.toMs = due;
      last.count++;
      last.worstMs = Math.max(last.worstMs, ms);
    } else {
      out.push({ fromMs: due, toMs: due, count: 1, worstMs: ms });
    }
  }
  return out;
}

/**
 * Requests not answered 2xx (by status; 'no answer' where the request failed), as one line for the
 * report, or undefined when every one was. Their latencies are not samples: a 404 or a 503 is quick,
 * and the script printed the p99 of 404s as the engine's when the standard workload was missing.
 */
export function failedLine(failed: Readonly<Record<string, number>>, total: number, first?: string): string | undefined {
  const n = Object.values(failed).reduce((a, b) => a + b, 0);
  if (n === 0) return undefined;
  const by = Object.entries(failed).map(([status, k]) => `${status}: ${k}`).join(', ');
  return `${n} of ${total} requests were not answered 2xx (${by})${first ? `; the first: ${first.slice(0, 300)}` : ''}; their latencies are left out`;
}

/**
 * A --trace-gc line of a full collection, shortened: the isolate (one per thread), the heap before
 * and after, the pause and how long marking ran beside the thread (V8's concurrent marking, on other
 * threads, which on a shared core take it from the serving ones). Undefined for other lines.
 */
export function collection(line: string): string | undefined {
  const m = /\[\d+:(0x[0-9a-f]+)\]\s+[\d.]+ ms: Mark-Compact ([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB, ([\d.]+) \/ [\d.]+ ms.*?walltime since start of marking (\d+) ms/.exec(line);
  return m ? `isolate ${m[1]}: ${m[2]} -> ${m[3]} MB, pause ${m[4]} ms, marking for ${m[5]} ms before it` : undefined;
}

/** The q-quantile (0..1) of `xs`, nearest rank. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const values = cli('npx tsx loadtest/stalls.ts', 'An open loop on one core, slow stretches beside the engine\'s full collections (build first: npm run build).', {
    rate: { type: 'string', default: '900', number: { min: 1 }, help: 'arrival rate, requests/s' },
    duration: { type: 'string', default: '10', number: { min: 1 }, help: 'seconds' },
    'slow-ms': { type: 'string', default: '10', number: { min: 0 }, help: 'a request slower than this is part of a stretch' },
    'node-flags': { type: 'string', default: '', value: 'FLAGS', help: 'more flags for the engine\'s node, space-separated' },
  });
  requireBench('npx tsx loadtest/stalls.ts');
  const rate = Number(values.rate);
  const durationS = Number(values.duration);
  const cores = availableParallelism();
  if (cores > 1) execFileSync('taskset', ['-a', '-p', '-c', String(cores - 1), String(process.pid)], { stdio: 'ignore' });
  const srv = await startEngine({ configs: await configsFor('bench'), threads: 1, ...(cores > 1 ? { cpus: '0' } : {}), nodeArgs: ['--trace-gc', ...values['node-flags'].split(' ').filter(Boolean)] });
  const collections: { atMs: number; line: string }[] = [];
  let t0 = Infinity;
  srv.child.stdout!.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) {
      const c = collection(line);
      if (c) collections.push({ atMs: performance.now() - t0, line: c });
    }
  });
  const make = benchRequests('complimentary_items');
  try {
    await runClosedLoop({ url: srv.url, makeRequest: make, client: 'raw', concurrency: 16, durationS: 8 });
    const client = new RawClient(new URL(srv.url).origin, { connections: 512, timeoutMs: 10_000 });
    const samples: [number, number][] = [];
    const failed: Record<string, number> = {};
    let firstFailure: string | undefined;
    const fail = (status: string, what: string): void => {
      failed[status] = (failed[status] ?? 0) + 1;
      firstFailure ??= what;
    };
    const pending: Promise<void>[] = [];
    const total = Math.round(rate * durationS);
    t0 = performance.now();
    for (let i = 0; i < total; ) {
      while (i < total && t0 + (i * 1000) / rate <= performance.now()) {
        const due = t0 + (i * 1000) / rate;
        const spec = make(i++);
        pending.push(client.request(spec.method ?? 'GET', spec.path, { 'content-type': 'application/json' }, spec.body as string).then(
          (res) => void (res.status >= 200 && res.status < 300 ? samples.push([due - t0, performance.now() - due]) : fail(String(res.status), `${res.status} ${String(res.body)}`)),
          (err: unknown) => fail('no answer', (err as Error).message),
        ));
      }
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + (i * 1000) / rate - performance.now())));
    }
    await Promise.all(pending);
    await client.close();
    const ms = samples.map(([, l]) => l);
    const failures = failedLine(failed, total, firstFailure);
    if (failures) {
      process.stdout.write(`${failures}\n`);
      process.exitCode = 1;
    }
    process.stdout.write(`${rate} req/s for ${durationS} s, open loop, engine on core 0 with one worker: p50 ${quantile(ms, 0.5).toFixed(1)} ms, p99 ${quantile(ms, 0.99).toFixed(1)} ms, max ${quantile(ms, 1).toFixed(1)} ms\n`);
    process.stdout.write(`stretches of requests over ${values['slow-ms']} ms (due time from the start):\n`);
    for (const s of stretches(samples, Number(values['slow-ms']), 20)) process.stdout.write(`  ${(s.fromMs / 1000).toFixed(3)} s, ${(s.toMs - s.fromMs).toFixed(0)} ms long, ${s.count} requests, worst ${s.worstMs.toFixed(1)} ms\n`);
    process.stdout.write('full collections (finished at, from the start):\n');
    for (const c of collections.filter((c) => c.atMs >= 0 && c.atMs <= durationS * 1000 + 500)) process.stdout.write(`  ${(c.atMs / 1000).toFixed(3)} s  ${c.line}\n`);
  } finally {
    await srv.close();
  }
}
