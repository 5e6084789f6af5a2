import { describe, expect, it } from 'vitest';
import { sample } from './sample.js';
import { runContract } from '../contract.js';
import { ctx, idsOf, rowSet, now } from '../testkit.js';
import { testRowSet } from '../../engine/testing.js';

runContract(sample, {
  file: import.meta.url,
  rowSet: rowSet(),
  ctx: ctx(),
  valid: [{ n: 3, score: 'score', seed: 42 }, { n: 5, score: 'price', temperature: 10, seed: 'client-7' }, { n: 2, score: 'score' }],
  invalid: [{}, { n: 3 }, { n: 3, score: 'score', temperature: 0 }, { n: 3, score: 'score', seed: [1] }, { n: 3, score: 'score', replace: true }],
  errors: [{ params: { n: 3, score: 'score', temperature: '$broken' }, code: 'BAD_PARAMETER' }],
});

describe('Sample', () => {
  const input = rowSet();
  const draw = (p: Record<string, unknown>, rs = input): number[] => idsOf(rs, now(sample.run({ temperature: 1, seed: 0, ...p } as never, rs, ctx())).rows!);

  it('is reproducible for a seed and independent of row order', () => {
    const a = draw({ n: 4, score: 'score', seed: 'abc' });
    expect(a).toHaveLength(4);
    expect(new Set(a).size).toBe(4);
    expect(draw({ n: 4, score: 'score', seed: 'abc' })).toEqual(a);
    const reversed = rowSet([...input.rows].reverse());
    expect(draw({ n: 4, score: 'score', seed: 'abc' }, reversed)).toEqual(a);
  });

  it('different seeds give different samples', () => {
    const samples = new Set(Array.from({ length: 20 }, (_, s) => draw({ n: 3, score: 'score', seed: s }).join(',')));
    expect(samples.size).toBeGreaterThan(3);
  });

  it('follows softmax(score / temperature): a near-zero temperature picks the top score', () => {
    const many = testRowSet('sku_id', { sku_id: Int32Array.from({ length: 50 }, (_, i) => i + 1), s: Float64Array.from({ length: 50 }, (_, i) => i / 50) });
    for (let seed = 0; seed < 10; seed++) expect(draw({ n: 1, score: 's', temperature: 1e-4, seed }, many)).toEqual([50]);
    // Two items with weights 1 : 3 (scores 0 and ln 3): the second is drawn first 75% of the time.
    const spread = testRowSet('sku_id', { sku_id: Int32Array.of(1, 2), s: Float64Array.of(0, Math.log(3)) });
    let firsts = 0;
    for (let seed = 0; seed < 2000; seed++) if (draw({ n: 1, score: 's', seed }, spread)[0] === 2) firsts++;
    expect(firsts / 2000).toBeGreaterThan(0.7);
    expect(firsts / 2000).toBeLessThan(0.8);
  });

  it('issue: a temperature so small (or a score so large) that score / temperature overflowed tied every row at Infinity', () => {
    // With score/T, 0.5/1e-320 and 1/1e-320 are both Infinity, and the draw fell to item id order.
    const rs = testRowSet('sku_id', { sku_id: Int32Array.of(1, 2, 3), s: Float64Array.of(0.5, 1, 0.25) });
    for (let seed = 0; seed < 10; seed++) expect(draw({ n: 3, score: 's', temperature: 1e-320, seed }, rs)).toEqual([2, 1, 3]);
    const big = testRowSet('sku_id', { sku_id: Int32Array.of(1, 2), s: Float64Array.of(1e308, 1.5e308) });
    for (let seed = 0; seed < 10; seed++) expect(draw({ n: 1, score: 's', temperature: 0.5, seed }, big)).toEqual([2]);
  });

  it('draws rows with a missing score last', () => {
    // sku 7 has a null score
    expect(draw({ n: 8, score: 'score', seed: 5 }).at(-1)).toBe(7);
  });
});
