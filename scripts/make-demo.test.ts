import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { tableFromIPC } from 'apache-arrow';
import type { Table } from 'apache-arrow';
import {
  CLIENT_FEATURES,
  DEFAULT_DEMO_DIR,
  DEMO_DEPARTMENTS,
  DEMO_FEATURE_COLUMNS,
  DEMO_FILES,
  DEMO_SIZES,
  ITEM_FEATURES,
  demoModelLayers,
  makeDemo,
} from './make-demo.js';
import type { DemoSummary } from './make-demo.js';
import {
  buildOnnxModel,
  externalDataModel,
  logisticModel,
  mlpModel,
  referenceLogistic,
  referenceMlp,
  referenceTreeSum,
  sigmoid,
  treeEnsembleModel,
} from './onnx-builder.js';
import type { TreeNode } from './onnx-builder.js';

async function run(model: Uint8Array, rows: readonly (readonly number[])[], input = 'features', output = 'psale') {
  const session = await ort.InferenceSession.create(model);
  try {
    const f = rows[0]!.length;
    const x = new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, f]);
    const out = (await session.run({ [input]: x }))[output]!;
    return { names: [session.inputNames, session.outputNames], dims: out.dims, data: Array.from(out.data as Float32Array) };
  } finally {
    await session.release();
  }
}

function f32Rows(n: number, f: number, seed: number): number[][] {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 4 - 2;
  return Array.from({ length: n }, () => Array.from({ length: f }, () => Math.fround(next())));
}

let dir: string;
let summary: DemoSummary;
const read = (rel: string) => readFileSync(join(dir, rel));
const table = (name: string): Table => tableFromIPC(read(`data/${name}.arrow`));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'airmail-demo-'));
  summary = makeDemo(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('make-demo', () => {
  it('regenerates the committed demo byte for byte', () => {
    for (const rel of DEMO_FILES) {
      const committed = readFileSync(join(DEFAULT_DEMO_DIR, rel));
      expect(Buffer.compare(read(rel), committed), rel).toBe(0);
    }
  });

  it('keeps the demo small', () => {
    expect(summary.bytes).toBeLessThan(1_000_000);
  });

  it('writes the documented tables', () => {
    const catalog = table('catalog');
    expect(catalog.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      'sku_id:Int32', 'product_id:Int32', 'department:LargeUtf8', 'size:LargeUtf8', 'price:Float32',
      ...ITEM_FEATURES.map((n) => `${n}:Float32`),
    ]);
    expect(catalog.numRows).toBe(2000);
    expect(Array.from(catalog.getChild('sku_id')!.toArray() as Int32Array)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    const products = new Set(catalog.getChild('product_id')!.toArray() as Int32Array);
    expect(products.size).toBeGreaterThan(300);
    expect(products.size).toBeLessThan(500);
    expect(new Set(catalog.getChild('department')!.toArray()).size).toBe(DEMO_DEPARTMENTS.length);
    expect([...new Set(catalog.getChild('size')!.toArray() as string[])].sort()).toEqual([...DEMO_SIZES].sort());
    // All skus of a product share its department.
    const deptOf = new Map<number, string>();
    for (let i = 0; i < catalog.numRows; i++) {
      const p = catalog.getChild('product_id')!.get(i) as number;
      const d = catalog.getChild('department')!.get(i) as string;
      expect(deptOf.get(p) ?? d).toBe(d);
      deptOf.set(p, d);
    }

    const clients = table('clients');
    expect(clients.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      'client_id:Int32', 'size:LargeUtf8', 'warehouse_id:Int32', ...CLIENT_FEATURES.map((n) => `${n}:Float32`),
    ]);
    expect(clients.numRows).toBe(500);
    expect([...new Set(clients.getChild('warehouse_id')!.toArray() as Int32Array)].sort()).toEqual([1, 2, 3]);

    const inventory = table('inventory');
    expect(inventory.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual(['warehouse_id:Int32', 'sku_id:Int32']);
    expect(inventory.numRows).toBeGreaterThan(3300);
    expect(inventory.numRows).toBeLessThan(3900);

    const purchases = table('purchases');
    expect(purchases.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual(['client_id:Int32', 'sku_id:Int32']);
    expect(purchases.numRows).toBeGreaterThan(4500);
    expect(purchases.numRows).toBeLessThan(5500);
    const pairs = new Set<string>();
    for (let i = 0; i < purchases.numRows; i++) pairs.add(`${purchases.getChild('client_id')!.get(i)}:${purchases.getChild('sku_id')!.get(i)}`);
    expect(pairs.size).toBe(purchases.numRows);

    expect(summary.rows).toEqual({ catalog: 2000, clients: 500, inventory: inventory.numRows, purchases: purchases.numRows });
  });

  it('demo model: features [N,24] -> psale [N,1], equal to the JS reference on real rows', async () => {
    const catalog = table('catalog');
    const clients = table('clients');
    const rows: number[][] = [];
    for (const [sku, client] of [[0, 0], [1, 7], [57, 123], [999, 250], [1999, 499]] as const) {
      rows.push([
        ...ITEM_FEATURES.map((n) => catalog.getChild(n)!.get(sku) as number),
        ...CLIENT_FEATURES.map((n) => clients.getChild(n)!.get(client) as number),
      ]);
    }
    expect(DEMO_FEATURE_COLUMNS).toHaveLength(24);
    const out = await run(read('models/psale_demo.onnx'), rows);
    expect(out.names).toEqual([['features'], ['psale']]);
    expect(out.dims).toEqual([5, 1]);
    const layers = demoModelLayers();
    out.data.forEach((y, i) => expect(Math.abs(y - referenceMlp(layers, rows[i]!)[0]!)).toBeLessThan(1e-5));
    // Scores are spread out, not saturated.
    expect(Math.max(...out.data) - Math.min(...out.data)).toBeGreaterThan(0.05);
  });
});

describe('onnx-builder', () => {
  it('is deterministic', () => {
    expect(Buffer.compare(logisticModel([1, 2, 3], 0.5), logisticModel([1, 2, 3], 0.5))).toBe(0);
    expect(Buffer.compare(externalDataModel(), externalDataModel())).toBe(0);
  });

  it('logisticModel matches the JS reference', async () => {
    const w = [0.5, -1.25, 2, 0.1, -0.7];
    const b = 0.3;
    const rows = f32Rows(8, w.length, 7);
    const out = await run(logisticModel(w, b, { inputName: 'x', outputName: 'p' }), rows, 'x', 'p');
    expect(out.names).toEqual([['x'], ['p']]);
    expect(out.dims).toEqual([8, 1]);
    out.data.forEach((y, i) => expect(Math.abs(y - referenceLogistic(w, b, rows[i]!))).toBeLessThan(1e-5));
  });

  it('mlpModel matches the JS reference with several layers', async () => {
    const layers = [
      { weights: [[0.5, -0.2, 0.1], [0.3, 0.8, -0.5], [-0.4, 0.1, 0.9], [0.2, 0.2, 0.2]], bias: [0.1, -0.1, 0] },
      { weights: [[1, -1], [0.5, 0.5], [-0.3, 0.7]], bias: [0, 0.2] },
      { weights: [[0.9], [-1.1]], bias: [0.05] },
    ];
    const rows = f32Rows(6, 4, 11);
    const out = await run(mlpModel(layers), rows);
    expect(out.dims).toEqual([6, 1]);
    out.data.forEach((y, i) => expect(Math.abs(y - referenceMlp(layers, rows[i]!)[0]!)).toBeLessThan(1e-5));
  });

  it('treeEnsembleModel (TreeEnsembleRegressor + Sigmoid) matches the JS reference', async () => {
    const trees: TreeNode[] = [
      { feature: 0, threshold: 0.25, left: { leaf: -0.8 }, right: { feature: 2, threshold: -0.5, left: { leaf: 0.3 }, right: { leaf: 1.1 } } },
      { feature: 1, threshold: 0, left: { feature: 3, threshold: 1, left: { leaf: 0.2 }, right: { leaf: -0.4 } }, right: { leaf: 0.6 } },
      { leaf: 0.05 },
    ];
    const rows = [...f32Rows(10, 4, 3), [0.25, 0, -0.5, 1]]; // the last row sits exactly on every threshold
    const out = await run(treeEnsembleModel(trees, { baseValue: -0.1 }), rows);
    expect(out.dims).toEqual([11, 1]);
    out.data.forEach((y, i) => expect(Math.abs(y - sigmoid(referenceTreeSum(trees, rows[i]!, -0.1)))).toBeLessThan(1e-5));
    // The exact values (no sigmoid) as a sanity check of the encoding.
    const raw = await run(treeEnsembleModel(trees, { sigmoid: false }), [[0.25, 0, -0.5, 1], [1, 1, 0, 0]]);
    expect(raw.data.map((x) => Math.round(x * 1e6) / 1e6)).toEqual([-0.8 + 0.2 + 0.05, 1.1 + 0.6 + 0.05].map((x) => Math.round(Math.fround(x) * 1e6) / 1e6));
  });

  it('externalDataModel points an initializer at a file it never writes', async () => {
    const bytes = externalDataModel({ location: 'airmail-missing-weights.bin' });
    expect(Buffer.from(bytes).includes(Buffer.from('airmail-missing-weights.bin'))).toBe(true);
    await expect(ort.InferenceSession.create(bytes)).rejects.toThrow(/external/i);
  });

  it('buildOnnxModel rejects initializers whose values do not fit their dims', () => {
    expect(() =>
      buildOnnxModel({
        inputs: [{ name: 'x', shape: ['N', 2] }],
        outputs: [{ name: 'y', shape: ['N', 2] }],
        initializers: [{ name: 'B', dims: [2], values: [1, 2, 3] }],
        nodes: [{ opType: 'Add', inputs: ['x', 'B'], outputs: ['y'] }],
      }),
    ).toThrow(/3 values/);
  });
});
