import { describe, expect, it } from 'vitest';
import { dedupe } from './dedupe.js';
import { runContract } from '../contract.js';
import { ctx, idsOf, rowSet, now } from '../testkit.js';

runContract(dedupe, {
  file: import.meta.url,
  rowSet: rowSet(),
  ctx: ctx(),
  valid: [{ by: 'product_id' }, { by: ['department', 'size'] }, { by: 'price' }, { by: 'product_id', keep: 2 }],
  invalid: [{}, { by: [] }, { by: '' }, { by: 3 }, { by: 'a', keep: 'last' }, { by: 'a', keep: 0 }, { by: 'a', keep: 1.5 }],
});

describe('Dedupe', () => {
  const input = rowSet();
  const run = (by: string | string[], keep?: number): number[] => idsOf(input, now(dedupe.run(keep === undefined ? { by } : { by, keep }, input, ctx())).rows!);

  it('keeps the first row of each value in current order', () => {
    // live skus 10,3,1,6,8,2,5,7 → products 400,100,100,300,300,100,200,300
    expect(run('product_id')).toEqual([10, 3, 6, 5]);
  });

  it('treats null (and NaN) as one value', () => {
    // prices 70,null,10,99,25.5,25.5,5,60
    expect(run('price')).toEqual([10, 3, 1, 6, 8, 5, 7]);
  });

  it('dedupes on a combination of columns', () => {
    // (dept, size): (bags,L),(hats,M),(shoes,M),(bags,XL),(shoes,S),(shoes,S),(shoes,M),(null,M)
    expect(run(['department', 'size'])).toEqual([10, 3, 1, 6, 8, 7]);
  });

  it('keeps the first `keep` rows of each value ("at most 2 per product")', () => {
    // products 400,100,100,300,300,100,200,300: the third 100 (sku 2) and the third 300 (sku 7) go
    expect(run('product_id', 2)).toEqual([10, 3, 1, 6, 8, 5]);
    expect(run('product_id', 1)).toEqual(run('product_id'));
  });
});
