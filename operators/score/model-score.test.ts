import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { modelScore, type ModelScoreParams } from './model-score.js';
import { runContract } from '../contract.js';
import { BENCH_DIR, BENCH_SKIP_REASON, ctx, requireBench, runBench, checkEnv } from '../testkit.js';
import type { Column } from '../../engine/api.js';
import { testContext, testRowSet } from '../../engine/testing.js';

/** The demo model the project builds (scripts/make-demo.ts): always present, so the contract can run anywhere. */
const DEMO_MODEL = new URL('../../configs/models/psale_demo.onnx', import.meta.url).pathname;

interface Expectations {
  readonly columns: readonly string[];
  readonly rows: readonly { features: Record<string, number>; gbdt_ort: number; mlp_ort: number }[];
}

/** The 20 expectation rows as a frame with one float32 column per feature. */
function expectationFrame(exp: Expectations) {
  const cols: Record<string, Column> = { sku_id: Int32Array.from(exp.rows, (_, i) => i + 1) };
  for (const c of exp.columns) cols[c] = Float32Array.from(exp.rows, (r) => r.features[c]!);
  return testRowSet('sku_id', cols);
}

const demoFrame = () => {
  const cols: Record<string, Column> = { sku_id: Int32Array.of(1, 2, 3) };
  for (let j = 0; j < 16; j++) cols[`f${j}`] = Float32Array.of(j / 10, -j / 10, 0.5);
  return testRowSet('sku_id', cols, [2, 0]);
};
const demoFeatures = [...Array.from({ length: 16 }, (_, j) => `f${j}`), '$client.c0', '$client.c1', '$client.c2', '$client.c3', '$client.c4', '$client.c5', '$client.c6', '$client.c7'];
const atRequest = [...demoFeatures.slice(0, 16), 0.1, 0.2, 0.3, 0.4, -0.1, -0.2, -0.3, -0.4];

runContract(modelScore, {
  file: import.meta.url,
  rowSet: demoFrame(),
  ctx: ctx(),
  valid: [{ model: DEMO_MODEL, features: atRequest }, { model: DEMO_MODEL, features: atRequest, batch_size: 1 }],
  invalid: [{ model: DEMO_MODEL }, { features: ['f0'] }, { model: DEMO_MODEL, features: [] }, { model: DEMO_MODEL, features: [{}] }, { model: DEMO_MODEL, features: ['f0'], batch_size: 0 }],
  problems: [{ params: { model: '/nonexistent/model.onnx', features: ['f0'] }, path: '/model', code: 'BAD_PARAMETER' }],
  errors: [
    { params: { model: DEMO_MODEL, features: ['f0', 'f1'] }, code: 'MODEL_FAILED' },
    // At request time a model that does not load is the server's failure (500), not a config error.
    { params: { model: '/nonexistent/model.onnx', features: ['f0'] }, code: 'MODEL_FAILED' },
  ],
});

describe('ModelScore', () => {
  it('declares item-column features as reads, never references', () => {
    expect(modelScore.reads!({ model: 'm.onnx', features: demoFeatures, batch_size: 4096 }, checkEnv)).toEqual(demoFeatures.slice(0, 16));
  });

  it('resolves a relative model path against the config at compile time', async () => {
    const env = { itemType: 'sku_id', itemsDataset: undefined, datasetColumns: () => undefined, resolvePath: (p: string) => `/configs/${p}` };
    expect((await modelScore.normalize!({ model: 'models/m.onnx', features: ['f0'], batch_size: 1 }, env)).model).toBe('/configs/models/m.onnx');
    expect((await modelScore.normalize!({ model: '$input.model', features: ['f0'], batch_size: 1 }, env)).model).toBe('$input.model');
  });

  it('broadcasts constant features and gives the same scores whatever the batch size', async () => {
    const input = demoFrame();
    const a = await modelScore.run({ model: DEMO_MODEL, features: atRequest, batch_size: 4096 }, input, ctx());
    const b = await modelScore.run({ model: DEMO_MODEL, features: atRequest, batch_size: 1 }, input, ctx());
    expect(a.length).toBe(2);
    expect(Array.from(a)).toEqual(Array.from(b));
    for (const v of a) expect(v).toBeGreaterThan(0);
    const other = await modelScore.run({ model: DEMO_MODEL, features: atRequest.map((f, j) => (j >= 16 ? 3 : f)), batch_size: 4096 }, input, ctx());
    expect(Array.from(other)).not.toEqual(Array.from(a));
  });

  it.skipIf(!runBench)(`reproduces model_expectations.json for both bench models within 1e-5${BENCH_SKIP_REASON}`, async () => {
    requireBench();
    const exp = JSON.parse(readFileSync(`${BENCH_DIR}model_expectations.json`, 'utf8')) as Expectations;
    expect(exp.columns).toHaveLength(24);
    const c = testContext();
    const input = expectationFrame(exp);
    for (const [file, key] of [['psale_gbdt.onnx', 'gbdt_ort'], ['psale_mlp.onnx', 'mlp_ort']] as const) {
      // All 24 as columns, in batches of 7 (so batches are uneven).
      const params: ModelScoreParams = { model: `${BENCH_DIR}${file}`, features: exp.columns, batch_size: 7 };
      const out = await modelScore.run(params, input, c);
      exp.rows.forEach((r, i) => expect(Math.abs(out[i]! - r[key])).toBeLessThan(1e-5));
    }
    // The config's form: f0..f15 columns, client c0..c7 substituted as numbers and broadcast (one row per client here).
    for (const [i, r] of exp.rows.entries()) {
      const features = exp.columns.map((name) => (name.startsWith('c') ? Math.fround(r.features[name]!) : name));
      const one = { frame: input.frame, rows: Int32Array.of(i) };
      const out = await modelScore.run({ model: `${BENCH_DIR}psale_gbdt.onnx`, features, batch_size: 4096 }, one, c);
      expect(Math.abs(out[0]! - r.gbdt_ort)).toBeLessThan(1e-5);
    }
  });
});
