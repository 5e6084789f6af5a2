/**
 * Test support for the registry (imported by tests only): the standard workload's location, a bench
 * sample table (24 float32 columns f0..f15, c0..c7 taken from catalog.arrow and clients.arrow rows),
 * and a real registry service on an ephemeral port over a temp folder.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow';
import { createRegistryApp, type RegistryAppOptions } from './service.js';
import { RegistryStore } from './store.js';

export const BENCH_DIR = fileURLToPath(new URL('../../../shared/bench/', import.meta.url));
export const hasBench = existsSync(join(BENCH_DIR, 'psale_gbdt.onnx'));
/** Bench tests run when the data is there, and always in CI (where missing data must fail, not skip). */
export const runBench = hasBench || process.env.CI !== undefined;
export const BENCH_NOTE = hasBench ? '' : ` (skipped: ${BENCH_DIR} not found; with CI set this fails instead)`;

export const FEATURES = [...Array.from({ length: 16 }, (_, i) => `f${i}`), ...Array.from({ length: 8 }, (_, i) => `c${i}`)];

export interface Expectations {
  readonly columns: readonly string[];
  readonly rows: readonly { features: Record<string, number>; gbdt_ort: number; mlp_ort: number }[];
}

export function benchFile(name: string): string {
  const p = join(BENCH_DIR, name);
  if (!existsSync(p)) throw new Error(`the standard workload is missing: expected ${p} (see ../shared/bench/README.md)`);
  return p;
}

export function expectations(): Expectations {
  return JSON.parse(readFileSync(benchFile('model_expectations.json'), 'utf8')) as Expectations;
}

/** `rows` rows: item features of catalog row (i*97 mod N) next to client features of clients row (i*31 mod M). */
export function benchSampleColumns(rows: number): Record<string, Float32Array> {
  const catalog = tableFromIPC(readFileSync(benchFile('catalog.arrow')));
  const clients = tableFromIPC(readFileSync(benchFile('clients.arrow')));
  const out: Record<string, Float32Array> = {};
  for (const name of FEATURES) {
    const fromCatalog = name.startsWith('f');
    const src = (fromCatalog ? catalog : clients).getChild(name)!.toArray() as Float32Array;
    const n = fromCatalog ? catalog.numRows : clients.numRows;
    const col = new Float32Array(rows);
    for (let i = 0; i < rows; i++) col[i] = src[(i * (fromCatalog ? 97 : 31)) % n]!;
    out[name] = col;
  }
  return out;
}

export function arrowBytes(columns: Record<string, Float32Array | Float64Array | Int32Array | string[]>): Uint8Array {
  return tableToIPC(tableFromArrays(columns as Parameters<typeof tableFromArrays>[0]), 'file');
}

export async function tempDir(prefix = 'airmail-reg-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export interface RunningRegistry {
  readonly url: string;
  readonly store: RegistryStore;
  readonly root: string;
  close(): Promise<void>;
}

/** A real registry service on 127.0.0.1:<ephemeral> over `root` (a new temp folder by default). */
export async function startRegistry(opts: RegistryAppOptions & { root?: string; port?: number } = {}): Promise<RunningRegistry> {
  const root = opts.root ?? (await tempDir());
  const store = await RegistryStore.open(root, { create: true });
  const server = serve({ fetch: createRegistryApp(store, opts).fetch, port: opts.port ?? 0, hostname: '127.0.0.1' });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    store,
    root,
    async close() {
      await new Promise<void>((r) => { (server as { closeAllConnections?: () => void }).closeAllConnections?.(); server.close(() => r()); });
      if (!opts.root) await rm(root, { recursive: true, force: true });
    },
  };
}

/** Every file under root/envelopes and root/artifacts with its size: a fingerprint of what is published. */
export async function snapshot(root: string): Promise<string[]> {
  const { readdir, stat } = await import('node:fs/promises');
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (d.isDirectory()) await walk(join(dir, d.name), `${rel}${d.name}/`);
      else out.push(`${rel}${d.name}:${(await stat(join(dir, d.name))).size}`);
    }
  };
  await walk(join(root, 'envelopes'), 'envelopes/');
  await walk(join(root, 'artifacts'), 'artifacts/');
  const aliases = await stat(join(root, 'aliases.json')).catch(() => undefined);
  if (aliases) out.push(`aliases.json:${aliases.size}`);
  return out.sort();
}
