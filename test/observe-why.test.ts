/**
 * Debug traces and "why not this item?" on the standard workload
 * (complimentary_items, bench configs): an item the client already bought,
 * one of another department, the one ranked 11th, one no include produced.
 */
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import type { DebugStep, WhyAnswer } from '../engine/observe/types.js';
import { benchOrSkip, ROOT, server } from './helpers.js';

const RUN = benchOrSkip();
const INPUTS = { client_id: 17, product_id: 42 };
let srv: RunningServer;

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await request(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.statusCode, json: JSON.parse(await r.body.text()) as Record<string, unknown> };
}

async function why(item: number): Promise<WhyAnswer> {
  const r = await post('/pipelines/complimentary_items/why', { inputs: INPUTS, item });
  expect(r.status).toBe(200);
  return r.json['why'] as WhyAnswer;
}

type Item = { sku_id: number; product_id: number; score: number };
let items: Item[];
let steps: DebugStep[];

describe.runIf(RUN)('debug and why on complimentary_items', () => {
  beforeAll(async () => {
    srv = await server({ configs: join(ROOT, 'loadtest/bench-configs') });
    const r = await post('/pipelines/complimentary_items?debug=true', INPUTS, { 'x-airmail-debug-ids': '100000' });
    expect(r.status).toBe(200);
    items = r.json['items'] as Item[];
    steps = (r.json['debug'] as { steps: DebugStep[] }).steps;
    expect(items).toHaveLength(10);
  }, 120_000);
  afterAll(async () => srv?.close());

  const step = (name: string): DebugStep => {
    const s = steps.find((x) => x.step === name);
    expect(s, name).toBeDefined();
    return s!;
  };

  it('lists every step with parameters, counts, ms and the ids kept and removed', () => {
    expect(steps.map((s) => `${s.phase}:${s.step}`)).toEqual(expect.arrayContaining([
      'include:AvailableInventory', 'include:MatchClientSize', 'exclude:PreviouslyPurchased', 'operation:MatchDepartment', 'score:PsaleGbdt', 'operation:DiverseSample', 'operation:Sort',
    ]));
    const md = step('MatchDepartment');
    expect(md.parameters).toMatchObject({ column: 'department' });
    expect(md.rowsIn - md.rowsOut).toBe(md.removedTotal);
    expect(md.keptTotal).toBe(md.rowsOut);
    expect(md.removed.length).toBe(md.removedTotal);
    const ds = step('DiverseSample');
    expect(ds.rowsOut).toBe(10);
    expect(ds.kept.slice().sort()).toEqual(items.map((i) => i.sku_id).sort());
    for (const s of steps) expect(s.ms).toBeGreaterThanOrEqual(0);
  });

  it('truncates id lists past the configured number', async () => {
    const r = await post('/pipelines/complimentary_items?debug=true', INPUTS, { 'x-airmail-debug-ids': '5' });
    const md = (r.json['debug'] as { steps: DebugStep[] }).steps.find((s) => s.step === 'MatchDepartment')!;
    expect(md.removed).toHaveLength(5);
    expect(md.removedTotal).toBeGreaterThan(5);
    expect(md.kept).toHaveLength(5);
  });

  it('an item the client already bought: removed by the PreviouslyPurchased exclude', async () => {
    const bought = step('PreviouslyPurchased').removed[0] as number;
    expect(bought).toBeDefined();
    const w = await why(bought);
    expect(w.verdict).toBe('excluded');
    expect(w.excludedBy.map((r) => r.step)).toEqual(['PreviouslyPurchased']);
    expect(w.excludedBy[0]!.parameters).toContain('where={client_id=17}');
    expect(w.includedBy.length).toBeGreaterThan(0);
    expect(w.reason).toMatch(/removed by exclude PreviouslyPurchased\(/);
  });

  it('an item of another department: filtered by MatchDepartment, with the item value', async () => {
    const other = step('MatchDepartment').removed[0] as number;
    const w = await why(other);
    expect(w.verdict).toBe('filtered');
    expect(w.removedBy?.step).toBe('MatchDepartment');
    const wanted = (step('MatchDepartment').parameters as { value: string }).value;
    expect(w.removedBy?.values['department']).toBeDefined();
    expect(w.removedBy?.values['department']).not.toBe(wanted);
    expect(w.reason).toContain(`value=${wanted}`);
  });

  it('the item ranked 11th: cut by DiverseSample, with its score and rank', async () => {
    // The same pipeline asking for 11: the extra item is the one ranked 11th.
    const doc = {
      pipeline: {
        name: 'complimentary_items_11', item_type: 'sku_id',
        initialization: { includes: ['AvailableInventory', 'MatchClientSize'], excludes: ['PreviouslyPurchased'], scores: [{ name: 'PsaleGbdt', as: 'psale_score' }] },
        operations: [{ name: 'Hydrate', parameters: { columns: ['department', 'product_id'] } }, 'MatchDepartment',
          { name: 'DiverseSample', parameters: { n: 11, maximize: 'psale_score', by: 'product_id' } }, { name: 'Sort', parameters: { by: 'score', desc: true } }],
        return: ['sku_id', 'product_id', 'score'],
      },
      inputs: INPUTS,
    };
    const r = await post('/execute', doc);
    expect(r.status).toBe(200);
    const eleven = r.json['items'] as Item[];
    const extra = eleven.filter((i) => !items.some((j) => j.sku_id === i.sku_id));
    expect(extra).toHaveLength(1);
    const w = await why(extra[0]!.sku_id);
    expect(w.verdict).toBe('cut');
    expect(w.removedBy?.step).toBe('DiverseSample');
    expect(w.rank).toBe(11);
    expect(w.of).toBe(step('DiverseSample').rowsIn);
    expect(w.score).toBeCloseTo(extra[0]!.score, 6);
    expect(w.rankedBy).toBe('psale_score');
    // DiverseSample ranks by the column it maximizes (here the only scorer's, so the same order as score).
    expect(w.reason).toMatch(/psale_score [\d.]+, rank 11 of \d+ by psale_score \(\d+ of \d+ with product_id=\d+\), and cut by DiverseSample\(n=10/);
  });

  it('an item no include produced: names the includes and what they returned', async () => {
    const produced = new Set([...step('AvailableInventory').kept, ...step('MatchClientSize').kept].map(Number));
    let sku = 1;
    while (produced.has(sku)) sku++;
    const w = await why(sku);
    expect(w.verdict).toBe('not_included');
    expect(w.includedBy).toEqual([]);
    expect(w.notIncludedBy.map((r) => r.step).sort()).toEqual(['AvailableInventory', 'MatchClientSize']);
    expect(w.notIncludedBy.find((r) => r.step === 'AvailableInventory')!.returned).toBe(step('AvailableInventory').rowsOut);
    expect(w.reason).toMatch(/^no include produced item \d+: AvailableInventory\(/);
  });

  it('an item in the result: kept, with its position and score', async () => {
    const w = await why(items[2]!.sku_id);
    expect(w.verdict).toBe('kept');
    expect(w.rank).toBe(3);
    expect(w.score).toBeCloseTo(items[2]!.score, 6);
  });

  it('refuses a body without an item', async () => {
    const r = await post('/pipelines/complimentary_items/why', { inputs: INPUTS });
    expect(r.status).toBe(422);
    expect(r.json['code']).toBe('INPUT_INVALID');
  });
});
