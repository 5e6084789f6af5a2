/**
 * Test helpers: the built-in operators as the composition root wires them,
 * the standard workload's location, and a server on an ephemeral port.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, expect } from 'vitest';
import { builtinOperators } from '../operators/index.js';
import { ConfigStore } from '../engine/config-store.js';
import { startServer, type RunningServer, type ServerOptions } from '../engine/server.js';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const BENCH = resolve(ROOT, '../shared/bench');
export const HAS_BENCH = existsSync(join(BENCH, 'catalog.arrow'));
export const OPERATORS_URL = new URL('../operators/index.ts', import.meta.url).href;

/**
 * Tests on the standard workload run when ../shared/bench exists; under CI
 * its absence is a failure, elsewhere the test is skipped with this reason.
 */
export function benchOrSkip(): boolean {
  if (HAS_BENCH) return true;
  if (process.env['CI']) throw new Error(`../shared/bench is missing at ${BENCH}: CI must run the standard-workload tests`);
  console.warn(`skipping: the standard workload is not at ${BENCH}`);
  return false;
}

export async function tempDir(prefix = 'airmail-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A copy of the demo configs directory (so tests can edit it). */
export async function demoConfigs(): Promise<string> {
  const dir = await tempDir('airmail-configs-');
  await cp(join(ROOT, 'configs'), dir, { recursive: true });
  return dir;
}

export function server(opts: Partial<ServerOptions> & { configs: string }): Promise<RunningServer> {
  return startServer({ operators: builtinOperators, operatorModules: [OPERATORS_URL], port: 0, host: '127.0.0.1', threads: 2, ...opts });
}

/**
 * A server on `dir`/configs that resolves registry models at `registry` (artifacts cached in
 * `dir`/cache), with every config accepted at start.
 */
export async function registryServer(dir: string, registry: string): Promise<RunningServer> {
  const srv = await server({ configs: join(dir, 'configs'), registry, modelHub: { cacheDir: join(dir, 'cache'), log: () => undefined } });
  expect(srv.startErrors).toEqual([]);
  return srv;
}

/** Closes a registry test's server and registry (either may not have started) and removes its folder. */
export async function closeRegistryWorld(srv: { close(): Promise<void> } | undefined, reg: { close(): Promise<void> } | undefined, dir: string | undefined): Promise<void> {
  await srv?.close();
  await reg?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}

export const OPS = new Map(builtinOperators.map((d) => [d.name, d]));

/**
 * A ConfigStore opener for one test file (call at the top level): built-in operators, no settle
 * window, and every store it opened closed after each test.
 */
export function configStores(): (dir: string) => ConfigStore {
  const stores: ConfigStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  return (dir) => {
    const s = new ConfigStore(dir, OPS, { settleMs: 0 });
    stores.push(s);
    return s;
  };
}

/**
 * `airmail serve` in its own process on an ephemeral port (demo configs, one thread), with `env`
 * over the test's; resolves once its startup line names the URL. `lines` keeps its stdout lines.
 */
export async function serveProcess(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; lines: string[] }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/airmail.mjs'), 'serve', '--port', '0', '--host', '127.0.0.1', '--threads', '1', '--configs', join(ROOT, 'configs')], {
    env: { ...process.env, AIRMAIL_FROM_SOURCE: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const rl = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not start in 60 s')), 60_000);
    rl.on('line', (l) => {
      lines.push(l);
      const m = /on (http:\/\/\S+)/.exec(l);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!.replace('localhost', '127.0.0.1'));
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  return { child, url, lines };
}

/** Waits until `cond` holds, checking every 25 ms; past `ms` it fails, saying what it waited for. */
export async function until(cond: () => boolean | Promise<boolean>, what = 'the condition', ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The value of one series of the server's /metrics, named as it is written (`name{label="v"}`); 0 when absent. */
export async function metricValue(serverUrl: string, series: string): Promise<number> {
  const text = await (await fetch(`${serverUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const exec = promisify(execFile);

/** Runs `airmail ARGS` from source in the repository with `env` over the test's; its exit code and output, whatever the code. */
export function airmailCli(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return airmailCliIn(ROOT, env, ...args);
}

/** `airmailCli` run in the folder `cwd` (files it prints are relative to the current directory). */
export async function airmailCliIn(cwd: string, env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [join(ROOT, 'bin/airmail.mjs'), ...args], { cwd, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1', ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
