import { describe, expect, it } from 'vitest';
import { range } from './range.js';
import { runContract } from '../contract.js';
import { ctx, idsOf, rowSet } from '../testkit.js';

runContract(range, {
  file: import.meta.url,
  rowSet: rowSet(),
  ctx: ctx(),
  valid: [{ column: 'price', min: 10 }, { column: 'price', max: 40, max_inclusive: false }, { column: 'price', min: 5, max: 60 }],
  invalid: [{ column: 'price' }, { min: 1 }, { column: 'price', min: 'cheap' }, { column: 'price', max: 3, inclusive: true }],
  problems: [{ params: { column: 'price', min: 50, max: 10 }, path: '/min', code: 'BAD_PARAMETER' }],
  errors: [{ params: { column: 'price', min: 'abc' }, code: 'BAD_PARAMETER' }],
});

describe('Range', () => {
  const input = rowSet();
  const run = (p: Record<string, unknown>): number[] =>
    idsOf(input, range.run({ min_inclusive: true, max_inclusive: true, ...p } as never, input, ctx()) as Int32Array);

  it('keeps rows within inclusive bounds and drops null prices', () => {
    // live skus 10,3,1,6,8,2,5,7 have prices 70,null,10,99,25.5,25.5,5,60
    expect(run({ column: 'price', min: 10, max: 60 })).toEqual([1, 8, 2, 7]);
  });

  it('honours exclusive bounds', () => {
    expect(run({ column: 'price', min: 10, max: 60, min_inclusive: false, max_inclusive: false })).toEqual([8, 2]);
  });

  it('one-sided bounds, and a bound that resolved to null counts as absent', () => {
    expect(run({ column: 'price', max: 10 })).toEqual([1, 5]);
    expect(run({ column: 'price', min: null, max: 10 })).toEqual([1, 5]);
    expect(run({ column: 'price', min: '60' })).toEqual([10, 6, 7]);
  });
});
