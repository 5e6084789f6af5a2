/**
 * Shared fixtures for operator tests: a small catalog with nulls, duplicate
 * groups and ties, and the location of the standard workload (../shared/bench).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CheckEnv, Column, RowSet, RunContext } from '../engine/api.js';
import { isNumeric } from '../engine/api.js';
import { testContext, testDataset, testRowSet, type Table } from '../engine/testing.js';

export const ITEMS: readonly Record<string, unknown>[] = [
  { sku_id: 1, product_id: 100, department: 'shoes', size: 'M', price: 10, score: 0.9 },
  { sku_id: 2, product_id: 100, department: 'shoes', size: 'S', price: 25.5, score: 0.1 },
  { sku_id: 3, product_id: 100, department: 'hats', size: 'M', price: null, score: 0.5 },
  { sku_id: 4, product_id: 200, department: 'hats', size: 'L', price: 40, score: 0.7 },
  { sku_id: 5, product_id: 200, department: 'shoes', size: 'M', price: 5, score: 0.7 },
  { sku_id: 6, product_id: 300, department: 'bags', size: 'XL', price: 99, score: 0.3 },
  { sku_id: 7, product_id: 300, department: null, size: 'M', price: 60, score: null },
  { sku_id: 8, product_id: 300, department: 'shoes', size: 'S', price: 25.5, score: 0.8 },
  { sku_id: 9, product_id: 400, department: 'hats', size: 'M', price: 15, score: 0.2 },
  { sku_id: 10, product_id: 400, department: 'bags', size: 'L', price: 70, score: 0.9 },
];

/** A frame row order that is neither sorted nor complete: filters must keep it. */
export const LIVE: readonly number[] = [9, 2, 0, 5, 7, 1, 4, 6];

export function catalog(): Table {
  return testDataset('catalog', ITEMS, 'sku_id');
}

export function purchases(): Table {
  return testDataset('purchases', [
    { client_id: 1, sku_id: 2 },
    { client_id: 1, sku_id: 8 },
    { client_id: 2, sku_id: 3 },
    { client_id: 1, sku_id: 99 },
  ]);
}

export function inventory(): Table {
  return testDataset('inventory', [
    { warehouse_id: 1, sku_id: 1 },
    { warehouse_id: 2, sku_id: 2 },
    { warehouse_id: 1, sku_id: 5 },
    { warehouse_id: 1, sku_id: 7 },
    { warehouse_id: 2, sku_id: 7 },
  ]);
}

export function ctx(extra: { inputs?: Record<string, unknown>; itemsDataset?: string } = {}): RunContext {
  return testContext({ itemType: 'sku_id', itemsDataset: extra.itemsDataset ?? 'catalog', datasets: [catalog(), purchases(), inventory()], inputs: extra.inputs ?? {} });
}

/** The catalog as a request frame (all its columns), with `rows` live (default LIVE). */
export function rowSet(rows: readonly number[] = LIVE, only?: readonly string[]): RowSet {
  const t = catalog();
  const cols: Record<string, Column> = {};
  for (const name of only ?? t.columnNames) cols[name] = t.column(name);
  if (!cols['sku_id']) cols['sku_id'] = t.column('sku_id');
  return testRowSet('sku_id', cols, rows);
}

/** Item ids of frame rows, for readable assertions. */
export function idsOf(input: RowSet, rows: Int32Array): number[] {
  const ids = input.frame.column('sku_id') as Int32Array;
  return Array.from(rows, (r) => ids[r]!);
}

// ---------------------------------------------------------------- the standard workload

export const BENCH_DIR = fileURLToPath(new URL('../../shared/bench/', import.meta.url));
export const hasBench = existsSync(`${BENCH_DIR}catalog.arrow`);
/** Bench tests run when the data is there, and in CI always (where missing data must fail, not skip). */
export const runBench = hasBench || process.env['CI'] !== undefined;
export const BENCH_SKIP_REASON = hasBench ? '' : ` (skipped: ${BENCH_DIR} not found; set CI to make this fail instead)`;

export function requireBench(): void {
  if (!hasBench) throw new Error(`the standard workload is missing: expected ${BENCH_DIR} (see ../shared/bench/README.md)`);
}

/** The result of an operator that answers synchronously (transforms may return a promise; these don't). */
export function now<T>(v: T | Promise<T>): T {
  if (v instanceof Promise) throw new Error('expected a synchronous result');
  return v;
}

/** A compile-time environment for reads/writes/check in unit tests. */
export const checkEnv: CheckEnv = {
  itemType: 'sku_id',
  itemsDataset: 'catalog',
  datasetColumns: (name) => (name === 'catalog' ? catalog().columnNames : undefined),
  datasetColumnType(name, column) {
    const t = name === 'catalog' ? catalog() : undefined;
    if (!t?.has(column)) return undefined;
    const col = t.column(column);
    return col instanceof Int32Array ? 'integer' : isNumeric(col) ? 'number' : 'string';
  },
  resolvePath: (p) => p,
};
