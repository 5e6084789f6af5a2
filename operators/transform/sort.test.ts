import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { sort } from './sort.js';
import { runContract, schemaErrors } from '../contract.js';
import { ctx, idsOf, rowSet, now, checkEnv } from '../testkit.js';
import { testRowSet } from '../../engine/testing.js';

runContract(sort, {
  file: import.meta.url,
  rowSet: rowSet(),
  ctx: ctx(),
  valid: [{ by: 'score', desc: true }, { score: 'price' }, { by: 'department' }],
  invalid: [{}, { desc: true }, { by: 'score', score: 'score' }, { by: 'score', desc: 'yes' }, { by: 'score', order: 'desc' }],
});

describe('Sort', () => {
  const input = rowSet();
  const run = (p: Record<string, unknown>): number[] => idsOf(input, now(sort.run({ desc: false, ...p } as never, input, ctx())).rows!);

  it('orders descending with ties by smaller id and NaN last', () => {
    // live skus 10,3,1,6,8,2,5,7: scores .9,.5,.9,.3,.8,.1,.7,NaN
    expect(run({ by: 'score', desc: true })).toEqual([1, 10, 8, 5, 3, 6, 2, 7]);
  });

  it('orders ascending, NaN still last, ties by id', () => {
    // prices 70,null,10,99,25.5,25.5,5,60
    expect(run({ score: 'price' })).toEqual([5, 1, 2, 8, 7, 10, 6, 3]);
  });

  it('orders string columns, nulls last', () => {
    // departments bags,hats,shoes,bags,shoes,shoes,shoes,null
    expect(run({ by: 'department' })).toEqual([6, 10, 3, 1, 2, 5, 8, 7]);
    expect(run({ by: 'department', desc: true })).toEqual([1, 2, 5, 8, 3, 6, 10, 7]);
  });

  it('answers only the first upTo rows, in the full order, when a Limit follows (input.upTo)', () => {
    for (const p of [{ by: 'score', desc: true }, { score: 'price' }, { by: 'department', desc: true }]) {
      const full = run(p);
      for (const upTo of [1, 3, 7]) {
        const rows = now(sort.run({ desc: false, ...p } as never, { ...input, upTo }, ctx())).rows!;
        expect(idsOf(input, rows), `${JSON.stringify(p)} upTo ${upTo}`).toEqual(full.slice(0, upTo));
      }
    }
  });

  it('breaks ties by string ids too', () => {
    const s = testRowSet('sku_id', { sku_id: { kind: 'string', values: ['b', 'a', 'c'] }, v: Float64Array.of(1, 1, 2) });
    expect(Array.from(now(sort.run({ by: 'v', desc: false }, s, ctx())).rows!)).toEqual([1, 0, 2]);
  });

  it("accepts the seed config's spelling (score:, desc: True)", () => {
    const cfg = parse(readFileSync(new URL('../../configs/my_pipeline.yaml', import.meta.url), 'utf8')) as { pipeline: { operations: { name: string; parameters: unknown }[] } };
    const step = cfg.pipeline.operations.find((o) => o.name === 'Sort')!;
    expect(schemaErrors(sort, step.parameters)).toEqual([]);
    expect(sort.reads!(step.parameters as never, checkEnv)).toEqual(['click_rate']);
  });
});
