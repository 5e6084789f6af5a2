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
import { loadModel } from '../engine/onnx.js';
import { benchOrSkip, OPS, ROOT } from './helpers.js';

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
