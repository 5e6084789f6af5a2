/**
 * Isolation between pipelines: one pipeline whose HttpSource upstream turns slow (300-800 ms, within
 * its timeout; every request a cache miss) beside a fast Lookup pipeline on the same server. Open
 * loop, 50 req/s to the slow pipeline and 200 req/s to the fast one, first with the upstream
 * healthy, then slow; prints the fast pipeline's p50/p99 and the status counts of both.
 *
 *   npx tsx loadtest/bulkhead.ts                       # default threads, bulkhead on (the default)
 *   npx tsx loadtest/bulkhead.ts --threads 4 --off     # --off: --max-workers-per-pipeline = threads (no isolation)
 *   npx tsx loadtest/bulkhead.ts --duration 10 --inline # --inline: leave cheap pipelines on the main thread
 *
 * The fast pipeline runs on the workers (`--inline-under-ms 0`) unless --inline: a pipeline this cheap
 * would otherwise move to the main thread and never meet the pool. The engine runs from source.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { cli } from './args.js';
import { startEngine } from './scenarios.js';

const args = cli('npx tsx loadtest/bulkhead.ts', 'A fast pipeline beside one whose upstream turns slow: its latency and statuses with the upstream healthy, then slow.', {
  duration: { type: 'string', default: '10', number: { min: 1 }, help: 'seconds a phase (warm-up, healthy, slow)' },
  threads: { type: 'string', number: { min: 1, integer: true }, help: 'worker threads (default: the cores)' },
  off: { type: 'boolean', help: 'no isolation: --max-workers-per-pipeline = threads' },
  inline: { type: 'boolean', help: 'leave cheap pipelines on the main thread (the server default)' },
  'slow-rate': { type: 'string', default: '50', number: { min: 1 }, help: 'req/s to the slow pipeline' },
  'fast-rate': { type: 'string', default: '200', number: { min: 1 }, help: 'req/s to the fast pipeline' },
});
const durationS = Number(args.duration);
const threads = args.threads ? Number(args.threads) : availableParallelism();
let slow = false;
const upstream = createServer((_req, res) => {
  setTimeout(() => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify([1, 2, 3, 4, 5, 6].map((sku_id) => ({ sku_id }))));
  }, slow ? 300 + Math.random() * 500 : 2);
});
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const dir = await mkdtemp(join(tmpdir(), 'airmail-bulkhead-'));
await writeFile(join(dir, 'catalog.json'), JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ sku_id: i, dept: i % 10 }))));
await writeFile(join(dir, 'p.yaml'), `
datasets: {catalog: {path: catalog.json, key: sku_id}}
pipelines:
- name: slow
  item_type: sku_id
  inputs: {user: {type: integer}}
  initialization:
    includes: [{name: HttpSource, parameters: {url: 'http://127.0.0.1:${(upstream.address() as AddressInfo).port}/items?user={user}', vars: {user: $user}, column: sku_id, ttl_ms: 1, timeout_ms: 2000, retries: 0}}]
  operations: [{name: Limit, parameters: {n: 5}}]
- name: fast
  item_type: sku_id
  initialization: {includes: [{name: Lookup, parameters: {dataset: catalog, where: {dept: $dept}}}]}
  operations: [{name: Sort, parameters: {by: sku_id, desc: true}}, {name: Limit, parameters: {n: 5}}]
`);
const engine = await startEngine({
  configs: dir,
  threads,
  env: { AIRMAIL_FROM_SOURCE: '1' },
  args: [...(args.inline ? [] : ['--inline-under-ms', '0']), ...(args.off ? ['--max-workers-per-pipeline', String(threads)] : [])],
});
const agent = new Agent({ connections: 512 });

interface Tally { lat: number[]; codes: Record<string, number> }
async function phase(): Promise<Record<'slow' | 'fast', Tally>> {
  const t: Record<'slow' | 'fast', Tally> = { slow: { lat: [], codes: {} }, fast: { lat: [], codes: {} } };
  const pending: Promise<void>[] = [];
  const one = (name: 'slow' | 'fast', body: object): void => {
    const t0 = performance.now();
    pending.push(request(`${engine.url}/pipelines/${name}`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(async (res) => {
        await res.body.dump();
        t[name].lat.push(performance.now() - t0);
        t[name].codes[res.statusCode] = (t[name].codes[res.statusCode] ?? 0) + 1;
      }, (err: Error) => {
        t[name].codes[err.name] = (t[name].codes[err.name] ?? 0) + 1;
      }));
  };
  let user = 0;
  const start = performance.now();
  const sent = { slow: 0, fast: 0 };
  const rates = { slow: Number(args['slow-rate']), fast: Number(args['fast-rate']) };
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const el = performance.now() - start;
      while (sent.slow < (el * rates.slow) / 1000) (sent.slow++, one('slow', { user: ++user }));
      while (sent.fast < (el * rates.fast) / 1000) (sent.fast++, one('fast', { dept: sent.fast % 10 }));
      if (el >= durationS * 1000) (clearInterval(timer), done());
    }, 2);
  });
  await Promise.all(pending);
  return t;
}
const q = (xs: number[], p: number): string => (xs.sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))] ?? 0).toFixed(1);
const show = (label: string, t: Record<'slow' | 'fast', Tally>): void =>
  console.log(`${label.padEnd(9)} fast p50 ${q(t.fast.lat, 0.5)} ms p99 ${q(t.fast.lat, 0.99)} ms ${JSON.stringify(t.fast.codes)} | slow ${JSON.stringify(t.slow.codes)}`);
try {
  console.log(`threads ${threads}, bulkhead ${args.off ? 'off' : 'on'}, fast pipeline ${args.inline ? 'may run inline' : 'on the workers'}, ${durationS} s a phase`);
  await phase(); // warm-up
  show('healthy', await phase());
  slow = true;
  show('slow', await phase());
} finally {
  await engine.close();
  upstream.close();
  await agent.close();
}
