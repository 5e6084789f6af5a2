/**
 * The candidate memo must never change an answer: memoised runs equal the
 * literal order (items, scores and empty reasons) for many requests, on the
 * demo and on the standard workload; impure includes turn it off.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../engine/api.js';
import { loadConfigSet } from '../engine/config/load.js';
import type { Plan } from '../engine/config/plan.js';
import { execute, type ExecOutput } from '../engine/execute.js';
import { threadMemo } from '../engine/memo.js';
import { executeObserved } from '../engine/observe/collect.js';
import { loadModel } from '../engine/onnx.js';
import { explainPlan } from '../engine/config/plan.js';
import { benchOrSkip, OPS, ROOT, tempDir } from './helpers.js';

async function load(dir: string): Promise<{ plans: Map<string, Plan>; datasets: ReadonlyMap<string, Dataset> }> {
  const { readdir } = await import('node:fs/promises');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
  const sources = await Promise.all(files.map(async (f) => ({ path: join(dir, f), text: await readFile(join(dir, f), 'utf8') })));
  const r = await loadConfigSet(sources, { operators: OPS });
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return { plans: new Map([...r.snapshot.pipelines].map(([k, v]) => [k, v.plan])), datasets: r.snapshot.datasets };
}

const view = (o: ExecOutput): unknown => ({ length: o.length, columns: o.columns, reason: o.reason, error: o.error });

async function compare(dir: string, pipeline: string, requests: readonly Record<string, unknown>[]): Promise<void> {
  const { plans, datasets } = await load(dir);
  const plan = plans.get(pipeline)!;
  expect(plan.memo).toBe(true);
  const env = { datasets, operators: OPS, model: loadModel };
  const memo = threadMemo()!;
  const hits0 = memo.hits;
  // Twice over: the first pass fills the memo, the second is answered from it.
  for (let pass = 0; pass < 2; pass++) {
    for (const inputs of requests) {
      const literal = await execute(plan, env, inputs, { literal: true });
      const memoised = await execute(plan, env, inputs);
      expect(view(memoised), JSON.stringify(inputs)).toEqual(view(literal));
    }
  }
  expect(memo.hits - hits0).toBeGreaterThanOrEqual(requests.length);
}

describe('candidate memo', () => {
  it('answers the demo pipelines exactly like the literal order, empty results included', async () => {
    const requests = Array.from({ length: 40 }, (_, i) => ({ client_id: (i % 12) + 1, product_id: (i * 7) % 30 + 1 }));
    await compare(join(ROOT, 'configs'), 'complimentary_items', requests);
  });

  it('answers complimentary_items on the standard workload exactly like the literal order', async () => {
    if (!benchOrSkip()) return;
    let seed = 7;
    const rnd = (n: number): number => 1 + ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
    const requests = Array.from({ length: 60 }, () => ({ client_id: rnd(20000), product_id: rnd(10000) }));
    await compare(join(ROOT, 'loadtest/bench-configs'), 'complimentary_items', requests);
  });

  it('is off when an include is not pure', async () => {
    const { default: ops } = { default: OPS };
    const impure = [...ops.values()].find((d) => d.kind === 'source' && d.pure !== true);
    expect(impure, 'a built-in source that is not pure (e.g. an HTTP source)').toBeDefined();
    const { plans } = await load(join(ROOT, 'configs'));
    for (const p of plans.values()) expect(p.memo).toBe(p.includes.every((s) => s.pure) && p.pre.every((s) => s.pure));
  });
});

describe('result memo', () => {
  // A curated list: no excludes and every step pure, so the answer depends only on the bound parameters.
  const curated = `
pipeline:
  name: curated
  item_type: sku_id
  inputs: {top: {type: integer, default: 3}, after: {type: number, default: 0}}
  initialization:
    includes:
    - {name: Static, parameters: {items: [{sku_id: 1, w: 0.4}, {sku_id: 2, w: 0.9}, {sku_id: 3, w: 0.1}, {sku_id: 4, w: 0.7}, {sku_id: 5, w: 0.7}, {sku_id: 6, w: 0.2}]}}
  operations:
  - {name: Range, parameters: {column: w, min: $after}}
  - {name: Sort, parameters: {by: w, desc: true}}
  - {name: Limit, parameters: {n: $top}}
  return: [sku_id, w]
`;

  it('serves a pipeline whose steps are all pure and that excludes nothing from the memo, exactly like the literal order', async () => {
    const dir = await tempDir('airmail-result-memo-');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'curated.yaml'), curated);
    const { plans, datasets } = await load(dir);
    const plan = plans.get('curated')!;
    expect(plan.memoResult).toBe(true);
    expect(JSON.stringify(explainPlan(plan, []))).toContain('the result is memoised');
    const env = { datasets, operators: OPS, model: loadModel };
    const memo = threadMemo()!;
    const requests = [{ top: 3, after: 0 }, { top: 2, after: 0 }, { top: 3, after: 0.5 }, { top: 5, after: 0.95 }, { top: 3, after: 0 }];
    for (let pass = 0; pass < 2; pass++) {
      for (const inputs of requests) {
        const literal = await execute(plan, env, inputs, { literal: true });
        const hits0 = memo.hits;
        const memoised = await execute(plan, env, inputs);
        expect(view(memoised), JSON.stringify(inputs)).toEqual(view(literal));
        // Each distinct parameter set runs once; every later request with it is a hit (the empty one is never kept).
        if (pass === 1 && literal.length > 0) expect(memo.hits - hits0, JSON.stringify(inputs)).toBe(1);
      }
    }
    // What a request gets is its own copy: a worker transfers the buffers, a caller may write into them.
    const first = await execute(plan, env, { top: 3, after: 0 });
    (first.columns['w'] as Float64Array).fill(-1);
    expect(view(await execute(plan, env, { top: 3, after: 0 }))).toEqual(view(await execute(plan, env, { top: 3, after: 0 }, { literal: true })));
    expect([...(first.columns['sku_id'] as Int32Array)]).toEqual([2, 4, 5]);
    // Through the observer (per-step metrics asked) the result is looked up once per request: a miss
    // (its candidates come from the candidate memo: a hit there), then one hit.
    const m0 = memo.misses;
    const h0 = memo.hits;
    const a = await executeObserved({ ops: 1 }, plan, env, { top: 4, after: 0.15 }, {});
    expect([memo.misses - m0, memo.hits - h0]).toEqual([1, 1]);
    const b = await executeObserved({ ops: 1 }, plan, env, { top: 4, after: 0.15 }, {});
    expect([memo.misses - m0, memo.hits - h0]).toEqual([1, 2]);
    expect(view(b)).toEqual(view(a));
  });

  it('is off when the pipeline excludes items or scores with a model', async () => {
    const { plans } = await load(join(ROOT, 'configs'));
    for (const p of plans.values()) {
      expect(p.memoResult, p.name).toBe(p.memo && p.excludes.length === 0 && [...p.scorers, ...p.post].every((s) => s.pure));
      if (p.excludes.length > 0 || p.scorers.some((s) => s.use === 'ModelScore')) expect(p.memoResult, p.name).toBe(false);
    }
  });
});
