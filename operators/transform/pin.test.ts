import { describe, expect, it } from 'vitest';
import { pin } from './pin.js';
import { runContract } from '../contract.js';
import { ctx, idsOf, rowSet, now } from '../testkit.js';

runContract(pin, {
  file: import.meta.url,
  rowSet: rowSet(),
  ctx: ctx(),
  valid: [{ ids: [5, 3] }, { ids: [] }, { column: 'price' }, { column: 'price', desc: true }],
  invalid: [{}, { ids: 5 }, { ids: [1], column: 'price' }, { ids: [1], desc: true }, { column: '' }, { column: 'price', desc: 'yes' }, { column: 'price', n: 2 }],
});

describe('Pin', () => {
  // live skus 10,3,1,6,8,2,5,7; prices 70,null,10,99,25.5,25.5,5,60
  const input = rowSet();
  const run = (p: Parameters<typeof pin.run>[0]): number[] => idsOf(input, now(pin.run(p, input, ctx())).rows!);

  it('moves the listed ids to the front in list order; the rest keep their order', () => {
    expect(run({ ids: [5, 6, 1] })).toEqual([5, 6, 1, 10, 3, 8, 2, 7]);
  });
  it('ignores ids that are not candidates, and a repeated id', () => {
    expect(run({ ids: [99, 8, 8, 4] })).toEqual([8, 10, 3, 1, 6, 2, 5, 7]);
    expect(run({ ids: [] })).toEqual([10, 3, 1, 6, 8, 2, 5, 7]);
  });
  it('reads an id spelled as text as the same item', () => {
    expect(run({ ids: ['7'] })).toEqual([7, 10, 3, 1, 6, 8, 2, 5]);
  });
  it('pins rows with a value in column, in its order (ties by id), the null ones after in their order', () => {
    const nullPrice = rowSet([9, 2, 0, 5, 7]); // skus 10,3,1,6,8: price of 3 is null
    expect(idsOf(nullPrice, now(pin.run({ column: 'price' }, nullPrice, ctx())).rows!)).toEqual([1, 8, 10, 6, 3]);
    expect(idsOf(nullPrice, now(pin.run({ column: 'price', desc: true }, nullPrice, ctx())).rows!)).toEqual([6, 10, 8, 1, 3]);
  });
  it('with no row pinned the order is unchanged (a fallback to the ranking)', () => {
    const noneHasPrice = rowSet([2]);
    expect(idsOf(noneHasPrice, now(pin.run({ column: 'price' }, noneHasPrice, ctx())).rows!)).toEqual([3]);
  });
});
