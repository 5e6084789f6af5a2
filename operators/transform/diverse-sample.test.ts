import { describe, expect, it } from 'vitest';
import { diverseSample } from './diverse-sample.js';
import { runContract } from '../contract.js';
import { ctx, idsOf, rowSet, now } from '../testkit.js';
import { testRowSet } from '../../engine/testing.js';

runContract(diverseSample, {
  file: import.meta.url,
  rowSet: rowSet(),
  ctx: ctx(),
  valid: [{ n: 3, maximize: 'score', by: 'product_id' }, { n: 100, maximize: 'price', by: 'department' }],
  invalid: [{}, { n: 3, maximize: 'score' }, { n: -1, maximize: 'score', by: 'product_id' }, { n: 3, maximize: 'score', by: 'product_id', per_group: 1 }],
});

/** Brute force straight from the definition, for cross-checking. */
function reference(ids: number[], score: number[], group: number[], n: number): number[] {
  const idx = ids.map((_, i) => i);
  const r = idx.map((i) => idx.filter((j) => group[j] === group[i] && (score[j]! > score[i]! || (score[j] === score[i] && ids[j]! < ids[i]!))).length);
  return idx
    .sort((a, b) => r[a]! - r[b]! || score[b]! - score[a]! || ids[a]! - ids[b]!)
    .slice(0, n)
    .map((i) => ids[i]!);
}

describe('DiverseSample', () => {
  it('takes each group\u2019s best first, then second bests, ordered by score then id', () => {
    const input = rowSet();
    // live skus 10,3,1,6,8,2,5,7; products 400,100,100,300,300,100,200,300; scores .9,.5,.9,.3,.8,.1,.7,NaN
    // r=0: 1(.9,p100) 10(.9,p400) 8(.8,p300) 5(.7,p200); r=1: 3(.5) 6(.3); r=2: 2(.1) 7(NaN)
    const out = now(diverseSample.run({ n: 6, maximize: 'score', by: 'product_id' }, input, ctx()));
    expect(idsOf(input, out.rows!)).toEqual([1, 10, 8, 5, 3, 6]);
    expect(idsOf(input, now(diverseSample.run({ n: 100, maximize: 'score', by: 'product_id' }, input, ctx())).rows!)).toEqual([1, 10, 8, 5, 3, 6, 2, 7]);
  });

  it('matches a brute-force reading of the definition when groups hold many items', () => {
    // 60 items in 4 groups with repeated scores, so ranks, ties and rounds all matter.
    const ids = Array.from({ length: 60 }, (_, i) => 1000 - i * 7);
    const score = ids.map((_, i) => ((i * 37) % 11) / 10);
    const group = ids.map((_, i) => (i * 5) % 4);
    const input = testRowSet('sku_id', { sku_id: Int32Array.from(ids), s: Float64Array.from(score), g: Int32Array.from(group) }, [...ids.keys()].reverse());
    for (const n of [1, 4, 5, 13, 60]) {
      const got = idsOf(input, now(diverseSample.run({ n, maximize: 's', by: 'g' }, input, ctx())).rows!);
      expect(got).toEqual(reference(ids, score, group, n));
    }
    // Round 0 is one item per group; with 4 groups the 5th pick is a group's second item.
    const five = idsOf(input, now(diverseSample.run({ n: 5, maximize: 's', by: 'g' }, input, ctx())).rows!);
    const groupOf = (id: number) => group[ids.indexOf(id)]!;
    expect(new Set(five.slice(0, 4).map(groupOf)).size).toBe(4);
  });

  it('groups by string columns with nulls as one group', () => {
    const input = rowSet();
    // departments bags,hats,shoes,bags,shoes,shoes,shoes,null; scores .9,.5,.9,.3,.8,.1,.7,NaN
    const out = now(diverseSample.run({ n: 5, maximize: 'score', by: 'department' }, input, ctx()));
    expect(idsOf(input, out.rows!)).toEqual([1, 10, 3, 7, 8]);
  });
});

describe('DiverseSample over text groups (issue 4: by: brand read through dictionary codes)', () => {
  it('answers as the same groups written as plain strings, nulls one group, with many groups and with few', () => {
    let seed = 3;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 40; trial++) {
      const size = 50 + Math.floor(rnd() * 200);
      const groups = 1 + Math.floor(rnd() * 60);
      const names = Array.from({ length: size }, () => (rnd() < 0.05 ? null : `g${Math.floor(rnd() * groups)}`));
      const dictionary = [...new Set(names.filter((x): x is string => x !== null))];
      const codes = Int32Array.from(names, (x) => (x === null ? -1 : dictionary.indexOf(x)));
      const cols = { sku_id: Int32Array.from({ length: size }, (_, i) => size - i), s: Float64Array.from({ length: size }, () => (rnd() < 0.1 ? NaN : Math.floor(rnd() * 9))) };
      const dict = testRowSet('sku_id', { ...cols, b: { kind: 'dict', codes, dictionary } });
      const plain = testRowSet('sku_id', { ...cols, b: { kind: 'string', values: names } });
      const n = 1 + Math.floor(rnd() * 30);
      const a = now(diverseSample.run({ n, maximize: 's', by: 'b' }, dict, ctx())).rows!;
      const b = now(diverseSample.run({ n, maximize: 's', by: 'b' }, plain, ctx())).rows!;
      expect([...a], `trial ${trial}`).toEqual([...b]);
    }
  });
});
