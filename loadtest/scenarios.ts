/**
 * Engine scenarios on the standard workload (../shared/bench): each starts
 * `airmail serve` in its own process (so its CPU and RSS are sampled apart
 * from the load generator) and says how to build requests and check answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import type { CheckResponse, MakeRequest, RequestSpec } from './generator.js';
import type { Scenario, ScenarioTarget } from './runner.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url).href.replace(/\/dist\/$/, '/'));
export const BENCH = join(ROOT, '../shared/bench');
export const BENCH_CONFIGS = join(ROOT, 'loadtest/bench-configs');

/** What the scripts read from the standard workload. */
export const BENCH_FILES = ['catalog.arrow', 'clients.arrow', 'inventory.arrow', 'purchases.arrow', 'psale_gbdt.onnx', 'psale_mlp.onnx', 'pipeline_expectations_sample.json'] as const;

/**
 * One line saying what of the standard workload is missing from `dir`, or undefined when it is all
 * there. Without it the engine loads only the trivial pipeline, so a script went on to time 404s
 * (stalls.ts printed their p99) or ended in a stack trace.
 */
export function benchMissing(dir: string = BENCH, files: readonly string[] = BENCH_FILES): string | undefined {
  const absent = files.filter((f) => !existsSync(join(dir, f)));
  if (absent.length === 0) return undefined;
  const what = existsSync(dir) ? `${dir} has no ${absent.join(', ')}` : `${dir} does not exist`;
  return `the standard workload is missing: ${what} (it is read from ../shared/bench beside the project; see its README.md)`;
}

/** benchMissing, as a script's first check: prints it and exits 2 before any load. */
export function requireBench(command: string, dir: string = BENCH, files: readonly string[] = BENCH_FILES): void {
  const problem = benchMissing(dir, files);
  if (!problem) return;
  process.stderr.write(`${command}: ${problem}\n`);
  process.exit(2);
}

export interface EngineProcess {
  readonly pid: number;
  readonly url: string;
  readonly child: ChildProcess;
  close(): Promise<void>;
}

export interface EngineOptions {
  readonly configs: string;
  readonly threads?: number;
  readonly env?: Readonly<Record<string, string>>;
  readonly args?: readonly string[];
  /** CPUs the engine (every thread of it) may run on, as `taskset -c` takes them ("0", "0-13"). */
  readonly cpus?: string;
  /** Flags for the engine's node itself, before the script (e.g. V8's `--trace-gc`). */
  readonly nodeArgs?: readonly string[];
}

/**
 * Which code `airmail serve` runs for the load tests, and a warning when it is a dist/ older than
 * the sources: bin/airmail.mjs picks dist/ when it exists, so a load test after a code change
 * measured the previous build and said nothing.
 */
export function engineBuild(root: string = ROOT, fromSource = Boolean(process.env['AIRMAIL_FROM_SOURCE'])): { readonly note: string; readonly stale: boolean } {
  const built = join(root, 'dist/engine/cli.js');
  if (fromSource || !existsSync(built)) return { note: 'engine: the TypeScript sources (through tsx)', stale: false };
  const builtAt = statSync(built).mtimeMs;
  let newest: { file: string; at: number } | undefined;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) {
        const at = statSync(p).mtimeMs;
        if (at > builtAt && (!newest || at > newest.at)) newest = { file: p.slice(root.length + 1), at };
      }
    }
  };
  for (const d of ['engine', 'operators', 'registry-client']) if (existsSync(join(root, d))) walk(join(root, d));
  return newest
    ? { note: `engine: dist/, OLDER than the sources (${newest.file} changed since the build): run npm run build, or set AIRMAIL_FROM_SOURCE=1, to measure the current code`, stale: true }
    : { note: 'engine: dist/ (built after the last change to the sources)', stale: false };
}

/** Starts `airmail serve` on a free port and resolves once it listens. */
export async function startEngine(opts: EngineOptions): Promise<EngineProcess> {
  const args = [join(ROOT, 'bin/airmail.mjs'), 'serve', '--port', '0', '--host', '127.0.0.1', '--configs', opts.configs, ...(opts.threads ? ['--threads', String(opts.threads)] : []), ...(opts.args ?? [])];
  // taskset execs node in its own process, so the pid is the engine's.
  const node = [...(opts.nodeArgs ?? []), ...args];
  const [cmd, argv]: [string, string[]] = opts.cpus ? ['taskset', ['-c', opts.cpus, process.execPath, ...node]] : [process.execPath, node];
  const child = spawn(cmd, argv, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`engine did not start within 60 s: ${stderr}`)), 60_000);
    lines.on('line', (line) => {
      const m = /on (http:\/\/[^\s]+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!.replace('localhost', '127.0.0.1'));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`engine exited with ${code}: ${stderr}`));
    });
  });
  let closed: Promise<void> | undefined;
  return {
    pid: child.pid!,
    url,
    child,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      })),
  };
}

/** Seeded requests over the whole client and product range (the same sequence every run). */
export function benchRequests(pipeline: string, seed = 1): MakeRequest {
  return (i: number): RequestSpec => {
    let s = (seed * 2654435761 + i * 40503) >>> 0;
    const next = (): number => {
      s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) >>> 0;
      return s;
    };
    const client = 1 + (next() % 20_000);
    const product = 1 + (next() % 10_000);
    return { method: 'POST', path: `/pipelines/${pipeline}`, body: `{"client_id":${client},"product_id":${product}}` };
  };
}

/** 200 with an items list and no error. */
export const okItems: CheckResponse = (status, body) => status === 200 && Array.isArray((body as { items?: unknown }).items) && (body as { error?: unknown }).error === false;

interface Expectation {
  readonly client_id: number;
  readonly product_id: number;
  readonly items: readonly { sku_id: number; score: number }[];
}

/**
 * Asks the running engine the expectation requests and compares items with
 * pipeline_expectations_sample.json: same skus in the same order (a swap only
 * between scores closer than 1e-6) and scores within 1e-5.
 */
export async function checkExpectations(url: string, pipeline: string): Promise<string> {
  const list = JSON.parse(readFileSync(join(BENCH, 'pipeline_expectations_sample.json'), 'utf8')) as Expectation[];
  let ok = 0;
  const problems: string[] = [];
  for (const e of list) {
    const input = { client_id: e.client_id, product_id: e.product_id };
    const res = await request(`${url}/pipelines/${pipeline}`, { method: 'POST', body: JSON.stringify(input), headers: { 'content-type': 'application/json' } });
    const got = ((await res.body.json()) as { items: { sku_id: number; score: number }[] }).items;
    const same = got.length === e.items.length && e.items.every((want, k) => {
      const g = got[k]!;
      if (Math.abs(g.score - want.score) > 1e-5) return false;
      if (g.sku_id === want.sku_id) return true;
      const other = e.items.findIndex((w) => w.sku_id === g.sku_id);
      return other >= 0 && Math.abs(e.items[other]!.score - want.score) < 1e-6;
    });
    if (same) ok++;
    else problems.push(JSON.stringify(input));
  }
  return `${pipeline}: ${ok}/${list.length} expectation requests answered exactly${problems.length ? ` (differ: ${problems.join(', ')})` : ''}`;
}

export interface EngineScenarioOptions extends EngineOptions {
  readonly name: string;
  readonly makeRequest: MakeRequest;
  readonly check?: CheckResponse;
  /** Runs once the engine listens (e.g. compare with the expectations); its line goes to the report notes. */
  readonly verify?: (url: string) => Promise<string>;
  readonly notes?: string[];
  /** Extra processes the scenario needs (an upstream service), started before and stopped after the engine. */
  readonly around?: () => Promise<{ env: Record<string, string>; close(): Promise<void> }>;
}

export function engineScenario(o: EngineScenarioOptions): Scenario {
  return {
    name: o.name,
    async setup(): Promise<ScenarioTarget> {
      const extra = o.around ? await o.around() : undefined;
      const engine = await startEngine({ ...o, env: { ...o.env, ...extra?.env } });
      if (o.verify) o.notes?.push(await o.verify(engine.url));
      return {
        url: engine.url,
        pid: engine.pid,
        makeRequest: o.makeRequest,
        check: o.check ?? okItems,
        teardown: async () => {
          await engine.close();
          await extra?.close();
        },
      };
    },
  };
}

/** RSS (MB) of a process from /proc. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/**
 * Memory with the standard workload loaded: RSS after warm-up requests at each
 * worker count. Datasets live in shared memory, so more workers should add
 * only their own heaps, not another copy of the tables.
 */
export async function memoryByWorkers(workers: readonly number[], requests = 400): Promise<{ workers: number; rssMb: number }[]> {
  const out: { workers: number; rssMb: number }[] = [];
  for (const n of workers) {
    const engine = await startEngine({ configs: BENCH_CONFIGS, threads: n });
    try {
      const make = benchRequests('complimentary_items', 99);
      await Promise.all(Array.from({ length: 8 }, async (_, lane) => {
        for (let i = lane; i < requests; i += 8) {
          const r = make(i);
          const res = await request(`${engine.url}${r.path}`, { method: 'POST', body: r.body as string, headers: { 'content-type': 'application/json' } });
          await res.body.dump();
        }
      }));
      out.push({ workers: n, rssMb: rssMb(engine.pid) });
    } finally {
      await engine.close();
    }
  }
  return out;
}
