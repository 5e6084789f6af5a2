import { describe, expect, it } from 'vitest';
import { column } from './column.js';
import { runContract } from '../contract.js';
import { ctx, rowSet } from '../testkit.js';
import { testRowSet } from '../../engine/testing.js';

runContract(column, {
  file: import.meta.url,
  rowSet: rowSet(),
  ctx: ctx(),
  valid: [{ column: 'price' }, { column: 'product_id' }],
  invalid: [{}, { column: '' }, { column: 3 }, { column: 'price', scale: 2 }],
});

describe('Column', () => {
  it('returns the column values for the live rows, null as NaN', () => {
    const input = rowSet();
    const out = column.run({ column: 'price' }, input, ctx()) as Float64Array;
    expect(out).toBeInstanceOf(Float64Array);
    // live skus 10,3,1,6,8,2,5,7
    expect(Array.from(out)).toEqual([70, NaN, 10, 99, 25.5, 25.5, 5, 60]);
  });

  it('widens int columns and parses numeric strings', () => {
    const s = testRowSet('sku_id', { sku_id: Int32Array.of(1, 2, 3), n: Int32Array.of(4, 5, 6), t: { kind: 'string', values: ['1.5', 'x', null] } }, [2, 0]);
    expect(Array.from(column.run({ column: 'n' }, s, ctx()) as Float64Array)).toEqual([6, 4]);
    expect(Array.from(column.run({ column: 't' }, s, ctx()) as Float64Array)).toEqual([NaN, 1.5]);
  });
});
