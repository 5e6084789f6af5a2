/**
 * Scenarios beyond the local workload: AvailableInventory served by an
 * upstream HTTP service (5 ms latency) behind the in-process cache or Redis,
 * the cold-cache call count, and tracing + metrics on versus off.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { request } from 'undici';
import type { Scenario } from './runner.js';
import { BENCH_CONFIGS, ROOT, benchRequests, engineScenario, startEngine } from './scenarios.js';
import { spawnUpstreamInventory } from './upstream-inventory.js';
import { startRedis } from '../test/redis-server.js';

export const UPSTREAM_CONFIGS = join(ROOT, 'loadtest/bench-configs-upstream');

async function upstream(withRedis: boolean): Promise<{ env: Record<string, string>; close(): Promise<void> }> {
  const up = await spawnUpstreamInventory({ latencyMs: 5 });
  const redis = withRedis ? await startRedis() : undefined;
  return {
    env: { AIRMAIL_INVENTORY_URL: up.url, ...(redis ? { REDIS_URL: redis.url } : {}) },
    close: async () => {
      await up.close();
      await redis?.stop();
    },
  };
}

/** The collector stand-in's code: accepts and drops every export, prints its port, then the export count on stdin's end. */
const SINK_SOURCE = `
const { createServer } = require('node:http');
let exports = 0;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => { exports++; res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.stdin.resume();
process.stdin.on('end', () => { console.log(exports); process.exit(0); });
`;

/**
 * An OTLP/HTTP collector stand-in in its own process, as a collector would be: inside the load
 * generator its work (reading ~3 KB of spans per request) would slow the generator, not the engine.
 */
export async function sinkCollector(): Promise<{ env: Record<string, string>; close(): Promise<void> }> {
  const child = spawn(process.execPath, ['-e', SINK_SOURCE], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const port = Number((await lines.next()).value);
  return {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_SERVICE_NAME: 'airmail-loadtest', AIRMAIL_METRICS: '1' },
    close: async () => {
      child.stdin!.end();
      const exports = Number((await lines.next()).value);
      if (!(exports > 0)) process.stderr.write('warning: the collector stand-in received no exports\n');
    },
  };
}

/**
 * Cold cache: a fresh engine and upstream, 120 requests at once (under the
 * pool's queue bound of 64 per worker, so none is shed); the upstream must be
 * called once per distinct warehouse among them, never more.
 */
export async function coldCacheCalls(withRedis: boolean): Promise<string> {
  const up = await spawnUpstreamInventory({ latencyMs: 5 });
  const redis = withRedis ? await startRedis() : undefined;
  const engine = await startEngine({ configs: UPSTREAM_CONFIGS, env: { AIRMAIL_INVENTORY_URL: up.url, ...(redis ? { REDIS_URL: redis.url } : {}) } });
  try {
    const make = benchRequests('complimentary_items', 5);
    const bodies = Array.from({ length: 120 }, (_, i) => make(i).body as string);
    const statuses = await Promise.all(bodies.map(async (body) => {
      const res = await request(`${engine.url}/pipelines/complimentary_items_upstream`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      await res.body.dump();
      return res.statusCode;
    }));
    const stats = (await (await request(`${up.url}/stats`)).body.json()) as { calls: number; by_warehouse: Record<string, number> };
    const warehouses = Object.keys(stats.by_warehouse).length;
    const failed = statuses.filter((s) => s !== 200).length;
    const verdict = failed > 0 || warehouses === 0 ? 'NOT measured: requests failed' : stats.calls === warehouses ? 'equal, as required' : 'MORE than the distinct keys';
    return `cold cache (${withRedis ? 'Redis' : 'in-process'}): ${bodies.length} concurrent requests made ${stats.calls} upstream call(s) for ${warehouses} distinct warehouse key(s) — ${verdict}; ${failed} failed`;
  } finally {
    await engine.close();
    await up.close();
    await redis?.stop();
  }
}

export function extraScenarios(o: { threads: number; notes: string[] }): Record<string, Scenario> {
  const make = benchRequests('complimentary_items');
  // The upstream configs hold the same pipeline under its own name.
  const upstreamMake = benchRequests('complimentary_items_upstream');
  return {
    'upstream-local': engineScenario({ name: 'upstream inventory, in-process cache (warm)', configs: UPSTREAM_CONFIGS, threads: o.threads, makeRequest: upstreamMake, around: () => upstream(false), verify: () => coldCacheCalls(false), notes: o.notes }),
    'upstream-redis': engineScenario({ name: 'upstream inventory, Redis cache (warm)', configs: UPSTREAM_CONFIGS, threads: o.threads, makeRequest: upstreamMake, around: () => upstream(true), verify: () => coldCacheCalls(true), notes: o.notes }),
    'observe-off': engineScenario({ name: 'GBDT, metrics and tracing off', configs: BENCH_CONFIGS, threads: o.threads, makeRequest: make, env: { AIRMAIL_METRICS: '0' } }),
    'observe-on': engineScenario({ name: 'GBDT, metrics and OTLP tracing on', configs: BENCH_CONFIGS, threads: o.threads, makeRequest: make, around: sinkCollector }),
  };
}
