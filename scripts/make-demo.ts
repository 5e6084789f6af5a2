// Make the out-of-the-box demo: a small copy of the standard workload's shape (../shared/bench/README.md)
// and a demo scoring model, all from a seeded PRNG, so every run writes the same bytes.
//
//   npx tsx scripts/make-demo.ts            # writes configs/data/*.arrow and configs/models/psale_demo.onnx
//
// Tables (Arrow IPC files; strings are LargeUtf8 as in the bench files):
//   catalog.arrow    2,000 rows: sku_id int32 1..2000, product_id int32 (~400 products), department (6 values),
//                    size (XS S M L XL), price float32, f0..f15 float32
//   clients.arrow      500 rows: client_id int32 1..500, size, warehouse_id int32 1..3, c0..c7 float32
//   inventory.arrow  ~3,600 rows: warehouse_id int32, sku_id int32 (~60% of skus in each warehouse)
//   purchases.arrow  ~5,000 rows: client_id int32, sku_id int32 (5..15 distinct skus per client)
// Model: psale_demo.onnx, an MLP 24→16→1 (ReLU, Sigmoid): input `features` float32 [N, 24] = f0..f15 of the
// item then c0..c7 of the client; output `psale` float32 [N, 1].
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LargeUtf8, Table, makeVector, tableToIPC, vectorFromArray } from 'apache-arrow';
import type { Vector } from 'apache-arrow';
import { mlpModel } from './onnx-builder.js';
import type { DenseLayer } from './onnx-builder.js';

export const DEMO_SEED = 20_261_122;
export const DEMO_SKUS = 2000;
export const DEMO_CLIENTS = 500;
export const DEMO_WAREHOUSES = 3;
export const DEMO_DEPARTMENTS = ['dresses', 'tops', 'bottoms', 'knitwear', 'outerwear', 'shoes'] as const;
export const DEMO_SIZES = ['XS', 'S', 'M', 'L', 'XL'] as const;
export const ITEM_FEATURES = Array.from({ length: 16 }, (_, i) => `f${i}`);
export const CLIENT_FEATURES = Array.from({ length: 8 }, (_, i) => `c${i}`);
/** The model's input columns, in order. */
export const DEMO_FEATURE_COLUMNS: readonly string[] = [...ITEM_FEATURES, ...CLIENT_FEATURES];
export const DEMO_HIDDEN = 16;

/** Files makeDemo writes, relative to its output folder. */
export const DEMO_FILES = [
  'data/catalog.arrow',
  'data/clients.arrow',
  'data/inventory.arrow',
  'data/purchases.arrow',
  'models/psale_demo.onnx',
] as const;

/** mulberry32: a tiny 32-bit PRNG; integer arithmetic only, so it gives the same stream everywhere. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Roughly standard normal (Irwin–Hall with 4 uniforms): no transcendental functions, so no libm drift. */
function normal(rand: () => number): number {
  return (rand() + rand() + rand() + rand() - 2) * 1.7320508075688772;
}

function round(x: number, places: number): number {
  const k = 10 ** places;
  return Math.round(x * k) / k;
}

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

function floatColumns(names: readonly string[], values: Float32Array[]): Record<string, Vector> {
  const out: Record<string, Vector> = {};
  names.forEach((n, i) => (out[n] = makeVector(values[i]!)));
  return out;
}

function int32(values: ArrayLike<number>): Vector {
  return makeVector(Int32Array.from(values));
}

export function makeCatalog(rand: () => number): Table {
  const skuId: number[] = [];
  const productId: number[] = [];
  const department: string[] = [];
  const size: string[] = [];
  const price: number[] = [];
  const features = ITEM_FEATURES.map(() => new Float32Array(DEMO_SKUS));
  let product = 0;
  while (skuId.length < DEMO_SKUS) {
    product++;
    const count = Math.min(3 + Math.floor(rand() * 5), DEMO_SKUS - skuId.length);
    const dept = pick(rand, DEMO_DEPARTMENTS);
    const basePrice = 10 + rand() * 190;
    const firstSize = Math.floor(rand() * DEMO_SIZES.length);
    const latent = ITEM_FEATURES.map(() => normal(rand));
    for (let j = 0; j < count; j++) {
      const row = skuId.length;
      skuId.push(row + 1);
      productId.push(product);
      department.push(dept);
      size.push(DEMO_SIZES[(firstSize + j) % DEMO_SIZES.length]!);
      price.push(round(basePrice * (0.95 + 0.1 * rand()), 2));
      features.forEach((col, f) => (col[row] = round(0.8 * latent[f]! + 0.6 * normal(rand), 4)));
    }
  }
  return new Table({
    sku_id: int32(skuId),
    product_id: int32(productId),
    department: vectorFromArray(department, new LargeUtf8()),
    size: vectorFromArray(size, new LargeUtf8()),
    price: makeVector(Float32Array.from(price)),
    ...floatColumns(ITEM_FEATURES, features),
  });
}

export function makeClients(rand: () => number): Table {
  const size: string[] = [];
  const warehouse: number[] = [];
  const features = CLIENT_FEATURES.map(() => new Float32Array(DEMO_CLIENTS));
  for (let i = 0; i < DEMO_CLIENTS; i++) {
    size.push(pick(rand, DEMO_SIZES));
    warehouse.push(1 + Math.floor(rand() * DEMO_WAREHOUSES));
    features.forEach((col) => (col[i] = round(normal(rand), 4)));
  }
  return new Table({
    client_id: int32(Array.from({ length: DEMO_CLIENTS }, (_, i) => i + 1)),
    size: vectorFromArray(size, new LargeUtf8()),
    warehouse_id: int32(warehouse),
    ...floatColumns(CLIENT_FEATURES, features),
  });
}

export function makeInventory(rand: () => number): Table {
  const warehouse: number[] = [];
  const sku: number[] = [];
  for (let w = 1; w <= DEMO_WAREHOUSES; w++) {
    for (let s = 1; s <= DEMO_SKUS; s++) {
      if (rand() < 0.6) {
        warehouse.push(w);
        sku.push(s);
      }
    }
  }
  return new Table({ warehouse_id: int32(warehouse), sku_id: int32(sku) });
}

export function makePurchases(rand: () => number): Table {
  const client: number[] = [];
  const sku: number[] = [];
  for (let c = 1; c <= DEMO_CLIENTS; c++) {
    const count = 5 + Math.floor(rand() * 11);
    const bought = new Set<number>();
    while (bought.size < count) bought.add(1 + Math.floor(rand() * DEMO_SKUS));
    for (const s of [...bought].sort((a, b) => a - b)) {
      client.push(c);
      sku.push(s);
    }
  }
  return new Table({ client_id: int32(client), sku_id: int32(sku) });
}

/** The demo model's weights: 24→16 (ReLU) → 1 (Sigmoid), float32-exact values. */
export function demoModelLayers(rand: () => number = mulberry32(DEMO_SEED ^ 0x5eed)): DenseLayer[] {
  const inputs = DEMO_FEATURE_COLUMNS.length;
  const dense = (nIn: number, nOut: number, scale: number, bias: number): DenseLayer => ({
    weights: Array.from({ length: nIn }, () => Array.from({ length: nOut }, () => Math.fround(round(normal(rand) * scale, 5)))),
    bias: Array.from({ length: nOut }, () => Math.fround(round(bias + 0.1 * normal(rand), 5))),
  });
  return [dense(inputs, DEMO_HIDDEN, 1 / Math.sqrt(inputs), 0), dense(DEMO_HIDDEN, 1, 2 / Math.sqrt(DEMO_HIDDEN), -1)];
}

export function makeDemoModel(): Uint8Array {
  return mlpModel(demoModelLayers(), { producer: 'airmail-make-demo' });
}

export interface DemoSummary {
  readonly outDir: string;
  readonly files: readonly string[];
  readonly rows: Readonly<Record<'catalog' | 'clients' | 'inventory' | 'purchases', number>>;
  readonly bytes: number;
}

/** Write the demo tables to `<outDir>/data/` and the model to `<outDir>/models/psale_demo.onnx`. */
export function makeDemo(outDir: string): DemoSummary {
  // One stream per table, so changing one table never reshuffles another.
  const tables = {
    catalog: makeCatalog(mulberry32(DEMO_SEED + 1)),
    clients: makeClients(mulberry32(DEMO_SEED + 2)),
    inventory: makeInventory(mulberry32(DEMO_SEED + 3)),
    purchases: makePurchases(mulberry32(DEMO_SEED + 4)),
  };
  mkdirSync(join(outDir, 'data'), { recursive: true });
  mkdirSync(join(outDir, 'models'), { recursive: true });
  let bytes = 0;
  const files: string[] = [];
  for (const [name, table] of Object.entries(tables)) {
    const ipc = tableToIPC(table, 'file');
    const path = join(outDir, 'data', `${name}.arrow`);
    writeFileSync(path, ipc);
    files.push(path);
    bytes += ipc.byteLength;
  }
  const model = makeDemoModel();
  const modelPath = join(outDir, 'models', 'psale_demo.onnx');
  writeFileSync(modelPath, model);
  files.push(modelPath);
  bytes += model.byteLength;
  return {
    outDir,
    files,
    rows: {
      catalog: tables.catalog.numRows,
      clients: tables.clients.numRows,
      inventory: tables.inventory.numRows,
      purchases: tables.purchases.numRows,
    },
    bytes,
  };
}

/** The project's configs/ folder, where the committed demo lives. */
export const DEFAULT_DEMO_DIR = fileURLToPath(new URL('../configs/', import.meta.url));

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const summary = makeDemo(process.argv[2] ?? DEFAULT_DEMO_DIR);
  console.log(JSON.stringify(summary, null, 2));
}
