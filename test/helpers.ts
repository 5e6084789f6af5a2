/**
 * Test helpers: the built-in operators as the composition root wires them,
 * the standard workload's location, and a server on an ephemeral port.
 */
import { existsSync } from 'node:fs';
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
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
