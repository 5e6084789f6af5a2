/**
 * A larger retailer than the standard workload, for measuring what a request costs on a judge's
 * data: a catalog of 500,000 SKUs (100,000 products, 2,000 brands, 40 departments, price, stock,
 * in_stock, f0..f9), 100,000 clients, 5,000,000 purchases and the inventory of 50 warehouses
 * (20,000 SKUs each), as Arrow (what the pipelines read) and, where the size allows, CSV and JSON,
 * plus a configs folder of seven pipelines of the shapes a judge would write. Seeded: the same
 * `--seed` writes the same files.
 *
 *   npx tsx loadtest/big-retail.ts --out /tmp/airmail-big [--seed 7]
 *
 * `loadtest/big-cost.ts` runs the pipelines in process and prints the CPU each request costs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { cli } from './args.js';

export const BIG = { skus: 500_000, products: 100_000, brands: 2_000, departments: 40, clients: 100_000, purchases: 5_000_000, warehouses: 50, perWarehouse: 20_000 } as const;

/** mulberry32: a seeded uniform stream in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const dept = (i: number): string => `dept_${String(i).padStart(2, '0')}`;
const brand = (i: number): string => `brand_${String(i).padStart(4, '0')}`;

export const PIPELINES = `# The big retailer (loadtest/big-retail.ts): seven pipelines of the shapes a judge would write.
datasets:
  catalog:   {path: catalog.arrow, key: sku_id}
  clients:   {path: clients.arrow, key: client_id}
  purchases: {path: purchases.arrow}
  inventory: {path: inventory.arrow}
contexts:
  client:  {dataset: clients, key: $client_id}
  product: {dataset: catalog, key: $sku}
operators:
  Bought: {use: Lookup, parameters: {dataset: purchases, where: {client_id: $client_id}}}
  InWarehouse: {use: Lookup, parameters: {dataset: inventory, where: {warehouse_id: $client.warehouse_id}}}
pipelines:
# Lookup with three where columns, the low-selectivity one first.
- name: in_stock_brand
  item_type: sku_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: catalog, where: {in_stock: 1, department: $client.department, brand: $client.preferred_brand}}}]
    excludes: [Bought]
    scores: [{name: Column, parameters: {column: f0}}]
  operations:
  - {name: Sort, parameters: {by: score, desc: true}}
  - {name: Limit, parameters: {n: 10}}
# A department (12,500 SKUs) minus the client's purchases, excluded by dataset + where as a step.
- name: exclude_bought
  item_type: sku_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: catalog, where: {department: $client.department}}}]
  operations:
  - {name: Exclude, parameters: {dataset: purchases, where: {client_id: $client_id}}}
  - {name: Range, parameters: {column: price, min: 5, max: 150}}
  - {name: Sort, parameters: {by: f1, desc: true}}
  - {name: Limit, parameters: {n: 20}}
# The same, the purchases excluded under initialization (subtracted from memoised candidates).
- name: exclude_bought_init
  item_type: sku_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: catalog, where: {department: $client.department}}}]
    excludes: [Bought]
  operations:
  - {name: Range, parameters: {column: price, min: 5, max: 150}}
  - {name: Sort, parameters: {by: f1, desc: true}}
  - {name: Limit, parameters: {n: 20}}
# The client's warehouse (20,000 SKUs), many columns hydrated, filters, a weighted score.
- name: warehouse_weighted
  item_type: sku_id
  initialization:
    includes: [InWarehouse]
    excludes: [Bought]
    scores:
    - {name: Column, parameters: {column: f2}, as: s2, weight: 0.7}
    - {name: Column, parameters: {column: f3}, as: s3, weight: 0.3}
  operations:
  - {name: Hydrate, parameters: {columns: [product_id, brand, department, price, stock, f4, f5, f6, f7, f8]}}
  - {name: Match, parameters: {column: department, op: '!=', value: dept_00}}
  - {name: Range, parameters: {column: stock, min: 1}}
  - {name: Sort, parameters: {by: score, desc: true}}
  - {name: Dedupe, parameters: {by: brand, keep: 2}}
  - {name: Limit, parameters: {n: 20}}
# Four departments (about 50,000 SKUs) sorted by a score, top 10.
- name: sort_departments
  item_type: sku_id
  inputs: {departments: {default: [dept_01, dept_02, dept_03, dept_04]}}
  initialization:
    includes: [{name: Lookup, parameters: {dataset: catalog, where: {department: $departments}}}]
    excludes: [Bought]
    scores: [{name: Column, parameters: {column: f4}}]
  operations:
  - {name: Sort, parameters: {by: score, desc: true}}
  - {name: Limit, parameters: {n: 10}}
# The warehouse's SKUs, round-robin over brands, 20 of them.
- name: diverse_warehouse
  item_type: sku_id
  initialization:
    includes: [InWarehouse]
    excludes: [Bought]
    scores: [{name: Column, parameters: {column: f5}}]
  operations:
  - {name: DiverseSample, parameters: {n: 20, maximize: score, by: brand}}
  return: [sku_id, brand, score]
# A product page: more from the product's brand, in stock, the product itself excluded.
- name: more_from_brand
  item_type: sku_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: catalog, where: {in_stock: 1, brand: $product.brand}}}]
    excludes: [{name: Static, parameters: {items: [$sku]}}]
    scores: [{name: Column, parameters: {column: f6}}]
  operations:
  - {name: Range, parameters: {column: price, max: 200}}
  - {name: Sort, parameters: {by: score, desc: true}}
  - {name: Limit, parameters: {n: 8}}
`;

/** Inputs of request `i` of a pipeline (seeded): a client id, and a SKU for the product page. */
export function bigInputs(pipeline: string, i: number): Record<string, unknown> {
  const r = rng(i * 7919 + pipeline.length);
  const client = Math.floor(r() * BIG.clients);
  return pipeline === 'more_from_brand' ? { sku: Math.floor(r() * BIG.skus) } : { client_id: client };
}

export function writeBigRetail(out: string, seed: number, text: boolean): void {
  mkdirSync(out, { recursive: true });
  const r = rng(seed);
  const n = BIG.skus;
  const f = (): Float32Array => Float32Array.from({ length: n }, () => r());
  const catalog = {
    sku_id: Int32Array.from({ length: n }, (_, i) => i),
    product_id: Int32Array.from({ length: n }, (_, i) => Math.floor(i / (n / BIG.products))),
    brand: Array.from({ length: n }, () => brand(Math.floor(r() * BIG.brands))),
    department: Array.from({ length: n }, () => dept(Math.floor(r() * BIG.departments))),
    price: Float64Array.from({ length: n }, () => Math.round(r() * 30000) / 100),
    stock: Int32Array.from({ length: n }, () => (r() < 0.2 ? 0 : 1 + Math.floor(r() * 100))),
    in_stock: new Int32Array(n),
    f0: f(), f1: f(), f2: f(), f3: f(), f4: f(), f5: f(), f6: f(), f7: f(), f8: f(), f9: f(),
  };
  for (let i = 0; i < n; i++) catalog.in_stock[i] = catalog.stock[i]! > 0 ? 1 : 0;
  writeFileSync(join(out, 'catalog.arrow'), tableToIPC(tableFromArrays(catalog), 'file'));
  const c = BIG.clients;
  const clients = {
    client_id: Int32Array.from({ length: c }, (_, i) => i),
    warehouse_id: Int32Array.from({ length: c }, () => Math.floor(r() * BIG.warehouses)),
    department: Array.from({ length: c }, () => dept(Math.floor(r() * BIG.departments))),
    preferred_brand: Array.from({ length: c }, () => brand(Math.floor(r() * BIG.brands))),
  };
  writeFileSync(join(out, 'clients.arrow'), tableToIPC(tableFromArrays(clients), 'file'));
  const p = BIG.purchases;
  const purchases = { client_id: Int32Array.from({ length: p }, () => Math.floor(r() * c)), sku_id: Int32Array.from({ length: p }, () => Math.floor(r() * n)) };
  writeFileSync(join(out, 'purchases.arrow'), tableToIPC(tableFromArrays(purchases), 'file'));
  const w = BIG.warehouses * BIG.perWarehouse;
  const inventory = {
    warehouse_id: Int32Array.from({ length: w }, (_, i) => Math.floor(i / BIG.perWarehouse)),
    sku_id: Int32Array.from({ length: w }, () => Math.floor(r() * n)),
    units: Int32Array.from({ length: w }, () => 1 + Math.floor(r() * 50)),
  };
  writeFileSync(join(out, 'inventory.arrow'), tableToIPC(tableFromArrays(inventory), 'file'));
  writeFileSync(join(out, 'big.yaml'), PIPELINES);
  if (!text) return;
  // The same tables as text, for engines that read CSV or JSON (purchases stays Arrow only: 5M rows).
  const csv = (cols: Record<string, ArrayLike<unknown>>, rows: number): string => {
    const names = Object.keys(cols);
    const lines = [names.join(',')];
    for (let i = 0; i < rows; i++) lines.push(names.map((k) => String(cols[k]![i])).join(','));
    return `${lines.join('\n')}\n`;
  };
  writeFileSync(join(out, 'catalog.csv'), csv(catalog, n));
  writeFileSync(join(out, 'inventory.csv'), csv(inventory, w));
  writeFileSync(join(out, 'clients.csv'), csv(clients, c));
  writeFileSync(join(out, 'clients.json'), JSON.stringify(Array.from({ length: c }, (_, i) => ({ client_id: i, warehouse_id: clients.warehouse_id[i], department: clients.department[i], preferred_brand: clients.preferred_brand[i] }))));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const opts = cli('npx tsx loadtest/big-retail.ts', 'Writes the big retailer (500k SKUs, 100k clients, 5M purchases, 50 warehouses) and its seven pipelines.', {
    out: { type: 'string', default: '/tmp/airmail-big', help: 'folder to write', value: 'DIR' },
    seed: { type: 'string', default: '7', help: 'seed of the generator', number: { integer: true } },
    'no-text': { type: 'boolean', help: 'write Arrow only (no CSV / JSON copies)' },
  });
  const t0 = performance.now();
  writeBigRetail(opts.out, Number(opts.seed), !opts['no-text']);
  process.stderr.write(`wrote ${opts.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
