/**
 * Registry tag-query benchmark: 10,000 envelopes (200 model names × 50 versions, tags stage / team /
 * owner / region), four queries of different selectivity, answered by the store in process and by the
 * service over HTTP (undici, one connection, sequential). Writes loadtest/results/registry.{md,json}.
 *
 *   node --import tsx loadtest/registry-bench.ts [--envelopes 10000] [--iterations 2000]
 *
 * The folder is filled by writing envelope files directly (what publishing leaves behind), so the
 * benchmark measures indexing and querying, not 10,000 model loads.
 */
import { once } from 'node:events';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { Pool } from 'undici';
import { ENVELOPE_FORMAT, type Envelope } from '../engine/registry/envelope.js';
import { sha256Hex } from '../engine/registry/function.js';
import { compileQuery } from '../engine/registry/query.js';
import { createRegistryApp } from '../engine/registry/service.js';
import { RegistryStore } from '../engine/registry/store.js';
import { cli } from './args.js';

const QUERIES: readonly { name: string; q: string; limit: number }[] = [
  { name: 'resolve: name + stage, newest 1', q: 'name=model-042,stage=prod', limit: 1 },
  { name: 'stage + team set, top 100', q: 'stage=prod,team in (team-1|team-2)', limit: 100 },
  { name: 'not-equal + presence (scan until 100 found)', q: 'stage!=dev,owner', limit: 100 },
  { name: 'no equality clause, no match (full scan of all)', q: 'stage!=prod,!region', limit: 100 },
  { name: 'team + absent key, top 100', q: 'team=team-3,!owner', limit: 100 },
];

interface Row { query: string; text: string; limit: number; matches: number; where: 'store' | 'http'; p50: number; p90: number; p99: number; max: number; iterations: number }

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function stats(samples: number[]): { p50: number; p90: number; p99: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return { p50: r(pct(s, 0.5)), p90: r(pct(s, 0.9)), p99: r(pct(s, 0.99)), max: r(s.at(-1)!) };
}

async function fill(root: string, n: number): Promise<void> {
  const sha = sha256Hex(new TextEncoder().encode('bench artifact'));
  await mkdir(join(root, 'artifacts'), { recursive: true });
  await writeFile(join(root, 'artifacts', sha), 'bench artifact');
  const names = 200;
  const perName = Math.ceil(n / names);
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const writes: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const name = `model-${String(i % names).padStart(3, '0')}`;
    const version = Math.floor(i / names) + 1;
    if (version > perName) break;
    const index: Record<string, string> = {
      name, description: `benchmark model ${name}`, stage: ['prod', 'staging', 'dev'][i % 3]!, team: `team-${i % 10}`, region: ['eu', 'us', 'ap'][(i >> 2) % 3]!,
      ...(i % 2 === 0 ? { owner: `user-${i % 37}` } : {}),
    };
    const env: Envelope = {
      format: ENVELOPE_FORMAT, name, version, publishedAt: new Date(t0 + i * 1000).toISOString(),
      function: { flavor: 'onnx', artifact: { sha256: sha, size: 14 }, inputs: [{ name: 'f0', type: 'float32' }], outputs: [{ name: 'y', type: 'float32' }] },
      context: { runtime: 'node', runtimeVersion: process.version, language: 'python', packages: {} },
      index, data: { rows: 0, features: {} }, metrics: { auc: 0.5 + (i % 50) / 100 },
    };
    writes.push(mkdir(join(root, 'envelopes', name), { recursive: true }).then(() => writeFile(join(root, 'envelopes', name, `${version}.json`), JSON.stringify(env))));
    if (writes.length >= 256) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
}

export async function runRegistryBench(opts: { envelopes: number; iterations: number }): Promise<{ rows: Row[]; indexMs: number; envelopes: number; loadBefore: string; loadAfter: string }> {
  const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
  const loadBefore = load();
  const root = join(tmpdir(), `airmail-registry-bench-${process.pid}`);
  await rm(root, { recursive: true, force: true });
  await fill(root, opts.envelopes);
  const t0 = performance.now();
  const store = await RegistryStore.open(root);
  const indexMs = Math.round((performance.now() - t0) * 10) / 10;
  if (store.size !== opts.envelopes) throw new Error(`indexed ${store.size} envelopes, expected ${opts.envelopes}`);
  const server = serve({ fetch: createRegistryApp(store).fetch, port: 0, hostname: '127.0.0.1' });
  await once(server, 'listening');
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 });
  const rows: Row[] = [];
  try {
    for (const { name, q, limit } of QUERIES) {
      const cq = compileQuery(q);
      const matches = store.query(cq, { limit: 1_000_000 }).length;
      const local: number[] = [];
      for (let i = 0; i < opts.iterations + 200; i++) {
        const s = performance.now();
        store.query(q, { limit });
        if (i >= 200) local.push(performance.now() - s);
      }
      rows.push({ query: name, text: q, limit, matches, where: 'store', ...stats(local), iterations: opts.iterations });
      const path = `/envelopes?q=${encodeURIComponent(q)}&limit=${limit}`;
      const remote: number[] = [];
      const httpIterations = Math.max(100, Math.floor(opts.iterations / 4));
      for (let i = 0; i < httpIterations + 50; i++) {
        const s = performance.now();
        const res = await pool.request({ method: 'GET', path });
        const body = (await res.body.json()) as { envelopes: unknown[] };
        if (res.statusCode !== 200 || body.envelopes.length !== Math.min(limit, matches)) throw new Error(`${q}: HTTP ${res.statusCode}, ${body.envelopes.length} envelopes`);
        if (i >= 50) remote.push(performance.now() - s);
      }
      rows.push({ query: name, text: q, limit, matches, where: 'http', ...stats(remote), iterations: httpIterations });
    }
  } finally {
    await pool.close();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(root, { recursive: true, force: true });
  }
  return { rows, indexMs, envelopes: opts.envelopes, loadBefore, loadAfter: load() };
}

function markdown(r: Awaited<ReturnType<typeof runRegistryBench>>, date: string, machine: string): string {
  const lines = [
    '# Registry tag-query benchmark',
    '',
    `- Date: ${date}`,
    `- Machine: ${machine}`,
    '- Reproduce: `node --import tsx loadtest/registry-bench.ts`',
    `- ${r.envelopes.toLocaleString('en-US')} envelopes (200 names × ${Math.ceil(r.envelopes / 200)} versions; tags name, description, stage, team, region, owner on half); indexing the folder at open: ${r.indexMs} ms`,
    `- Load average before / after: ${r.loadBefore} / ${r.loadAfter} (the machine is shared; p99 over HTTP reflects it)`,
    '- store = RegistryStore.query in process; http = GET /envelopes?q=… through the Hono service, undici, one connection, sequential (JSON of the summaries included)',
    '',
    '| query | q | limit | matches | where | p50 ms | p90 ms | p99 ms | max ms | iterations |',
    '|---|---|---:|---:|---|---:|---:|---:|---:|---:|',
    ...r.rows.map((x) => `| ${x.query} | \`${x.text}\` | ${x.limit} | ${x.matches} | ${x.where} | ${x.p50} | ${x.p90} | ${x.p99} | ${x.max} | ${x.iterations} |`),
    '',
  ];
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const values = cli('npx tsx loadtest/registry-bench.ts', 'Registry tag queries over a store of envelopes; writes loadtest/results/registry.{md,json}.', {
    envelopes: { type: 'string', default: '10000', number: { min: 1, integer: true }, help: 'envelopes in the store' },
    iterations: { type: 'string', default: '2000', number: { min: 1, integer: true }, help: 'runs of each query' },
  });
  const r = await runRegistryBench({ envelopes: Number(values.envelopes), iterations: Number(values.iterations) });
  const date = new Date().toISOString();
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 20)} MiB, ${process.platform}-${process.arch}, Node ${process.version}`;
  const out = fileURLToPath(new URL('./results/', import.meta.url));
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'registry.json'), `${JSON.stringify({ date, machine, ...r }, null, 1)}\n`);
  await writeFile(join(out, 'registry.md'), markdown(r, date, machine));
  process.stdout.write(markdown(r, date, machine));
}
