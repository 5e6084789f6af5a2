import { describe, expect, it } from 'vitest';
import { match } from './match.js';
import { runContract } from '../contract.js';
import { ctx, idsOf, rowSet } from '../testkit.js';
import { testRowSet } from '../../engine/testing.js';

runContract(match, {
  file: import.meta.url,
  rowSet: rowSet(),
  ctx: ctx(),
  valid: [
    { column: 'department', value: 'shoes' },
    { column: 'product_id', op: 'in', value: [100, '300'] },
    { column: 'size', op: 'not_in', value: ['M'] },
  ],
  invalid: [
    {},
    { column: 'department' },
    { column: 'department', value: ['shoes'] },
    { column: 'department', op: 'in', value: 'shoes' },
    { column: 'department', op: 'like', value: 'sh%' },
    { column: 'department', value: 'x', extra: 1 },
  ],
});

describe('Match', () => {
  const input = rowSet();
  const run = (p: Record<string, unknown>): number[] => idsOf(input, match.run({ op: '==', ...p } as never, input, ctx()) as Int32Array);

  it('keeps equal rows of a dictionary column, in input order', () => {
    // LIVE order is rows 9,2,0,5,7,1,4,6 = skus 10,3,1,6,8,2,5,7
    expect(run({ column: 'department', value: 'shoes' })).toEqual([1, 8, 2, 5]);
  });

  it('!= is the complement of == (null rows kept)', () => {
    expect(run({ column: 'department', op: '!=', value: 'shoes' })).toEqual([10, 3, 6, 7]);
  });

  it('compares numbers with numeric strings on int columns', () => {
    expect(run({ column: 'product_id', op: 'in', value: [100, '300'] })).toEqual([3, 1, 6, 8, 2, 7]);
    expect(run({ column: 'product_id', op: 'not_in', value: [100, 300] })).toEqual([10, 5]);
  });

  it('matches float columns and a null value matches nothing', () => {
    expect(run({ column: 'price', value: 25.5 })).toEqual([8, 2]);
    expect(run({ column: 'department', value: null })).toEqual([]);
  });

  it('treats a single value given to in (via a reference) as a one-item list', () => {
    expect(run({ column: 'size', op: 'in', value: 'L' })).toEqual([10]);
  });

  it('works on plain string columns', () => {
    const s = testRowSet('sku_id', { sku_id: Int32Array.of(1, 2, 3), tag: { kind: 'string', values: ['a', null, 'b'] } }, [2, 1, 0]);
    expect(idsOf(s, match.run({ column: 'tag', op: 'in', value: ['a', 'b'] }, s, ctx()) as Int32Array)).toEqual([3, 1]);
  });
});
