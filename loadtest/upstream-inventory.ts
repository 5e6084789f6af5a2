/**
 * The upstream of the "sources that live elsewhere" scenario: an inventory
 * service that answers AvailableInventory (the skus in stock in a warehouse)
 * from ../shared/bench/inventory.arrow after a fixed latency (default 5 ms),
 * and counts its calls, so a load test can check "cold cache: upstream calls
 * = distinct keys" and "warm cache: none".
 *
 *   GET  /inventory?warehouse=N   skus of warehouse N, in inventory.arrow row order
 *                                 (Arrow IPC stream, one int32 column sku_id; `&format=json` for JSON rows)
 *   GET  /stats                   {"calls": total, "by_warehouse": {"1": n, ...}}
 *   POST /reset                   zero the counters
 *
 * Run directly: `node --import tsx loadtest/upstream-inventory.ts --port 8091 [--latency-ms 5] [--bench ../shared/bench]`
 * (prints `{"listening":8091}` once ready; SIGTERM closes it). Point the engine at it with
 * AIRMAIL_INVENTORY_URL=http://127.0.0.1:8091 (see bench-configs-upstream/).
 */
import { spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow';
import { cli } from './args.js';
import { requireBench } from './scenarios.js';

const SELF = fileURLToPath(import.meta.url);
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url).href.replace(/\/dist\/$/, '/'));
export const DEFAULT_BENCH_DIR = resolve(PROJECT_ROOT, '../shared/bench');

export interface UpstreamInventoryOptions {
  /** 0 = any free port. */
  readonly port?: number;
  /** Fixed delay before each answer; default 5 ms. */
  readonly latencyMs?: number;
  /** Where inventory.arrow is; default ../shared/bench beside the project. */
  readonly benchDir?: string;
}

export interface UpstreamInventory {
  readonly url: string;
  readonly port: number;
  /** Calls to /inventory, in total and by warehouse. */
  calls(): { total: number; byWarehouse: Record<string, number> };
  reset(): void;
  close(): Promise<void>;
}

/** Per warehouse: the Arrow IPC answer and the JSON one, built once. */
function loadAnswers(benchDir: string): Map<string, { arrow: Uint8Array; json: string }> {
  const t = tableFromIPC(readFileSync(join(benchDir, 'inventory.arrow')));
  const wh = t.getChild('warehouse_id')!.toArray() as Int32Array;
  const sku = t.getChild('sku_id')!.toArray() as Int32Array;
  const groups = new Map<number, number[]>();
  for (let i = 0; i < wh.length; i++) {
    let g = groups.get(wh[i]!);
    if (!g) groups.set(wh[i]!, (g = []));
    g.push(sku[i]!);
  }
  const out = new Map<string, { arrow: Uint8Array; json: string }>();
  for (const [w, skus] of groups) {
    out.set(String(w), {
      arrow: tableToIPC(tableFromArrays({ sku_id: Int32Array.from(skus) }), 'stream'),
      json: JSON.stringify(skus.map((s) => ({ sku_id: s }))),
    });
  }
  return out;
}

export async function startUpstreamInventory(opts: UpstreamInventoryOptions = {}): Promise<UpstreamInventory> {
  const answers = loadAnswers(opts.benchDir ?? DEFAULT_BENCH_DIR);
  const empty = { arrow: tableToIPC(tableFromArrays({ sku_id: new Int32Array(0) }), 'stream'), json: '[]' };
  const latency = opts.latencyMs ?? 5;
  let total = 0;
  const byWarehouse: Record<string, number> = {};
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    if (url.pathname === '/inventory' && req.method === 'GET') {
      const w = url.searchParams.get('warehouse') ?? '';
      total++;
      byWarehouse[w] = (byWarehouse[w] ?? 0) + 1;
      const a = answers.get(w) ?? empty;
      const asJson = url.searchParams.get('format') === 'json';
      setTimeout(() => {
        res.writeHead(200, { 'content-type': asJson ? 'application/json' : 'application/vnd.apache.arrow.stream' });
        res.end(asJson ? a.json : a.arrow);
      }, latency);
      return;
    }
    if (url.pathname === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ calls: total, by_warehouse: byWarehouse }));
      return;
    }
    if (url.pathname === '/reset' && req.method === 'POST') {
      total = 0;
      for (const k of Object.keys(byWarehouse)) delete byWarehouse[k];
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    calls: () => ({ total, byWarehouse: { ...byWarehouse } }),
    reset() {
      total = 0;
      for (const k of Object.keys(byWarehouse)) delete byWarehouse[k];
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface UpstreamInventoryProcess {
  readonly pid: number;
  readonly url: string;
  /** SIGTERM, then SIGKILL after 3 s. Safe to call twice. */
  close(): Promise<void>;
}

/** The service in its own process (so its CPU is not the engine's), like startBareHono. */
export function spawnUpstreamInventory(opts: UpstreamInventoryOptions = {}, startTimeoutMs = 20_000): Promise<UpstreamInventoryProcess> {
  const args = SELF.endsWith('.ts') ? ['--import', 'tsx', SELF] : [SELF];
  const child = spawn(process.execPath, [...args, '--port', String(opts.port ?? 0), '--latency-ms', String(opts.latencyMs ?? 5), ...(opts.benchDir ? ['--bench', opts.benchDir] : [])], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  return new Promise((resolveP, reject) => {
    const fail = (why: string): void => {
      void close();
      reject(new Error(`upstream inventory did not start: ${why}`));
    };
    const timer = setTimeout(() => fail(`no "listening" line within ${startTimeoutMs} ms`), startTimeoutMs);
    const onEarlyExit = (code: number | null): void => fail(`exited early (code ${code})`);
    child.once('exit', onEarlyExit);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = /^\{"listening":(\d+)\}$/.exec(line.trim());
      if (!m) return;
      clearTimeout(timer);
      child.off('exit', onEarlyExit);
      lines.close();
      child.stdout!.resume();
      resolveP({ pid: child.pid!, url: `http://127.0.0.1:${m[1]}`, close });
    });
  });
}

async function runMain(argv: readonly string[]): Promise<void> {
  // Through cli(): --help and a mistyped flag (--latency 50) used to start the service on 8091 anyway.
  const command = 'node --import tsx loadtest/upstream-inventory.ts';
  const v = cli(command, 'The inventory service of the upstream scenario: GET /inventory?warehouse=N after a fixed latency, GET /stats, POST /reset; prints {"listening":PORT} once ready, SIGTERM closes it.', {
    port: { type: 'string', default: '8091', number: { min: 0, max: 65535, integer: true }, help: 'port to listen on (0: any free one)' },
    'latency-ms': { type: 'string', default: '5', number: { min: 0 }, help: 'delay before each answer' },
    bench: { type: 'string', value: 'DIR', help: 'where inventory.arrow is (default ../shared/bench beside the project)' },
  }, argv);
  const benchDir = v.bench ? resolve(v.bench) : DEFAULT_BENCH_DIR;
  requireBench(command, benchDir, ['inventory.arrow']);
  const up = await startUpstreamInventory({ port: Number(v.port), latencyMs: Number(v['latency-ms']), benchDir });
  process.stdout.write(`${JSON.stringify({ listening: up.port })}\n`);
  const stop = (): void => void up.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(SELF)) {
  runMain(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  });
}
