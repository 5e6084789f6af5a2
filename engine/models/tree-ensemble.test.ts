import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { treeEnsembleModel, type TreeNode } from '../../scripts/onnx-builder.js';
import { tableFromArrow, tableFromRows } from '../dataset.js';
import { createOnnxModel } from '../onnx.js';
import { BENCH, benchOrSkip } from '../../test/helpers.js';
import { readOnnxGraph } from './onnx-graph.js';
import { treeEnsembleOf } from './tree-ensemble.js';

/** A deterministic random tree over `features` features, `depth` levels deep (some leaves early). */
function randomTree(seed: { v: number }, depth: number, features: number): TreeNode {
  const rnd = (): number => ((seed.v = (seed.v * 1103515245 + 12345) % 2147483648) / 2147483648);
  if (depth === 0 || rnd() < 0.15) return { leaf: rnd() * 2 - 1 };
  return { feature: Math.floor(rnd() * features), threshold: rnd(), left: randomTree(seed, depth - 1, features), right: randomTree(seed, depth - 1, features) };
}

describe('tree ensembles scored per item', () => {
  it('recognises a TreeEnsembleRegressor + Sigmoid and nothing else', () => {
    const seed = { v: 1 };
    const bytes = treeEnsembleModel([randomTree(seed, 3, 4), randomTree(seed, 3, 4)], { featureCount: 4, baseValue: 0.5 });
    const spec = treeEnsembleOf(readOnnxGraph(bytes)!, 4)!;
    expect(spec.trees).toHaveLength(2);
    expect(spec.logistic).toBe(true);
    expect(spec.base).toBeCloseTo(0.5, 6);
    expect(treeEnsembleOf(readOnnxGraph(readFileSync(join(import.meta.dirname, '../../configs/models/psale_demo.onnx')))!, 24)).toBeUndefined();
  });

  it('equals onnxruntime on item rows mixed with per-request constants, missing values included', async () => {
    const seed = { v: 42 };
    const F = 6;
    // An odd number of trees: trees are scored in pairs, and the last one goes alone.
    const trees = Array.from({ length: 41 }, () => randomTree(seed, 4, F));
    const model = await createOnnxModel(treeEnsembleModel(trees, { featureCount: F, baseValue: -0.3 }));
    expect(model.treeEnsemble).toBe(true);
    // Items carry features 0..3 (one of them sometimes missing); 4 and 5 are the request's.
    const rows = Array.from({ length: 3000 }, (_, i) => ({ id: i + 1, a: ((i * 37) % 101) / 100, b: ((i * 53) % 89) / 88, c: i % 7 === 0 ? null : ((i * 11) % 97) / 96, d: (i % 13) / 12 }));
    const items = tableFromRows('items', rows, 'id');
    const columns = ['a', 'b', 'c', 'd', null, null];
    for (const req of [[0, 0, 0, 0, 0.25, 0.75], [0, 0, 0, 0, 0.9, 0.1], [0, 0, 0, 0, NaN, 0.5]]) {
      const constants = Float64Array.from(req);
      const at = Int32Array.from({ length: 1000 }, (_, k) => (k * 7919) % rows.length);
      const fast = await model.scoreItems({ dataset: items, columns, constants, rows: at });
      expect(fast).toBeDefined();
      const x = new Float32Array(at.length * F);
      at.forEach((r, k) => {
        const row = rows[r]!;
        [row.a, row.b, row.c ?? NaN, row.d, req[4]!, req[5]!].forEach((v, j) => (x[k * F + j] = v));
      });
      const ref = await model.predict(x, at.length);
      let worst = 0;
      for (let k = 0; k < at.length; k++) worst = Math.max(worst, Math.abs(ref[k]! - fast![k]!));
      expect(worst).toBeLessThan(1e-6);
      // The same rows as shared candidates (kept codes, read in order): the same scores, all or some of them.
      const base = { rows: at, at: Int32Array.from(at.keys()) };
      expect([...(await model.scoreItems({ dataset: items, columns, constants, rows: at, base }))!]).toEqual([...fast!]);
      const some = Int32Array.from(at.keys()).filter((k) => k % 3 !== 1);
      const part = (await model.scoreItems({ dataset: items, columns, constants, rows: some.map((k) => at[k]!), base: { rows: at, at: some } }))!;
      expect([...part]).toEqual([...some].map((k) => fast![k]!));
    }
  });

  it('leaves models that are not tree ensembles to the runtime', async () => {
    const model = await createOnnxModel(readFileSync(join(import.meta.dirname, '../../configs/models/psale_demo.onnx')));
    const items = tableFromRows('items', [{ id: 1, a: 1 }], 'id');
    expect(await model.scoreItems({ dataset: items, columns: ['a'], constants: new Float64Array(1), rows: Int32Array.of(0) })).toBeUndefined();
  });

  it('equals onnxruntime for the standard workload GBDT on catalog rows and real clients', async () => {
    if (!benchOrSkip()) return;
    const model = await createOnnxModel(readFileSync(join(BENCH, 'psale_gbdt.onnx')));
    expect(model.treeEnsemble).toBe(true);
    const catalog = tableFromArrow('catalog', tableFromIPC(readFileSync(join(BENCH, 'catalog.arrow'))), 'sku_id', '');
    const clients = tableFromArrow('clients', tableFromIPC(readFileSync(join(BENCH, 'clients.arrow'))), 'client_id', '');
    const columns = [...Array.from({ length: 16 }, (_, i) => `f${i}`), ...Array<null>(8).fill(null)];
    for (const client of [0, 4711, 19999]) {
      const constants = new Float64Array(24);
      for (let j = 0; j < 8; j++) constants[16 + j] = (clients.column(`c${j}`) as Float32Array)[client]!;
      const at = Int32Array.from({ length: 2500 }, (_, k) => (k * 20011 + client) % catalog.length);
      const fast = (await model.scoreItems({ dataset: catalog, columns, constants, rows: at }))!;
      const x = new Float32Array(at.length * 24);
      at.forEach((r, k) => {
        for (let j = 0; j < 16; j++) x[k * 24 + j] = (catalog.column(`f${j}`) as Float32Array)[r]!;
        for (let j = 0; j < 8; j++) x[k * 24 + 16 + j] = constants[16 + j]!;
      });
      const ref = await model.predict(x, at.length);
      let worst = 0;
      for (let k = 0; k < at.length; k++) worst = Math.max(worst, Math.abs(ref[k]! - fast[k]!));
      expect(worst).toBeLessThan(1e-6);
    }
  });
});
