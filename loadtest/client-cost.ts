/**
 * What the load generator itself costs: each client (undici and the lean raw one) offers the same
 * open-loop rate to a bare node:http server in its own process that answers every request with a
 * small 503, as the engine's refusals do. The CPU of both sides and the latency the client sees
 * are the floor any overload run on a shared machine starts from.
 *
 *   npx tsx loadtest/client-cost.ts [--rate 1500] [--duration 8]
 */
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { runOpenLoop } from './generator.js';
import { cli } from './args.js';

const BARE_503 = `
const s = require('node:http').createServer((q, r) => {
  q.resume();
  r.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
  r.end('{"error":{"code":"OVERLOADED"}}');
});
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
`;

export interface ClientCost {
  readonly client: 'undici' | 'raw';
  readonly rate: number;
  readonly answered: number;
  readonly clientCpuPercent: number;
  readonly serverCpuPercent: number;
  readonly p50: number;
  readonly p99: number;
}

export async function clientCost(rate: number, durationS: number): Promise<ClientCost[]> {
  const child = spawn(process.execPath, ['-e', BARE_503], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
    const out: ClientCost[] = [];
    for (const client of ['undici', 'raw'] as const) {
      const r = await runOpenLoop({ url: `http://127.0.0.1:${port}`, makeRequest: () => ({ method: 'POST', path: '/pipelines/x', body: '{"client_id":1,"product_id":2}' }), rate, durationS, warmupS: 1, pid: child.pid, client, connections: 512, maxOutstanding: 2000 });
      out.push({ client, rate, answered: r.completed, clientCpuPercent: r.clientCpuPercent, serverCpuPercent: r.server?.cpuPercent ?? NaN, p50: r.latencyMs.p50, p99: r.latencyMs.p99 });
    }
    return out;
  } finally {
    child.kill();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const values = cli('npx tsx loadtest/client-cost.ts', 'What each load generator costs, against a bare Node server that answers 503.', {
    rate: { type: 'string', default: '1500', number: { min: 1 }, help: 'arrival rate, requests/s' },
    duration: { type: 'string', default: '8', number: { min: 1 }, help: 'seconds per client' },
  });
  const rows = await clientCost(Number(values.rate), Number(values.duration));
  process.stdout.write('| client | rate | answered | client CPU % | server CPU % | p50 ms | p99 ms |\n| --- | --- | --- | --- | --- | --- | --- |\n');
  for (const r of rows) process.stdout.write(`| ${r.client} | ${r.rate} | ${r.answered} | ${r.clientCpuPercent.toFixed(0)} | ${r.serverCpuPercent.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |\n`);
}
