import { describe, expect, it } from 'vitest';
import { staticSource } from './static.js';
import { runContract } from '../contract.js';
import { ctx } from '../testkit.js';

runContract(staticSource, {
  file: import.meta.url,
  ctx: ctx(),
  valid: [{ items: [1, 2, 3] }, { items: ['a', 'b'] }, { items: [{ sku_id: 5, boost: 2 }, { sku_id: 6, label: 'new' }] }],
  invalid: [{}, { items: 'x' }, { items: [true] }, { items: [1], extra: true }],
  problems: [
    { params: { items: [{ sku: 5 }] }, path: '/items/0', code: 'BAD_PARAMETER' },
    // Mixed ids came back as strings (the type of the first): refused at load instead.
    { params: { items: ['1', '2', 3] }, path: '/items', code: 'BAD_PARAMETER' },
    { params: { items: [{ sku_id: 1 }, '2'] }, path: '/items', code: 'BAD_PARAMETER' },
  ],
  errors: [{ params: { items: [1, { boost: 2 }] }, code: 'BAD_PARAMETER' }],
});

describe('Static', () => {
  it('returns integer ids as an Int32Array (the engine fast path)', async () => {
    const res = await staticSource.run({ items: [3, 1, 2] }, ctx());
    expect(res.ids).toBeInstanceOf(Int32Array);
    expect(Array.from(res.ids)).toEqual([3, 1, 2]);
    expect(res.columns).toBeUndefined();
  });

  it('keeps string ids as given', async () => {
    const res = await staticSource.run({ items: ['x', 7] }, ctx());
    expect(res.ids).toEqual(['x', 7]);
  });

  it('turns row objects into ids plus aligned extra columns', async () => {
    const res = await staticSource.run({ items: [{ sku_id: 5, boost: 2, label: 'a' }, { sku_id: 6 }, 7] }, ctx());
    expect(Array.from(res.ids)).toEqual([5, 6, 7]);
    expect(Array.from(res.columns!['boost'] as Float64Array)).toEqual([2, NaN, NaN]);
    expect(res.columns!['label']).toEqual({ kind: 'string', values: ['a', null, null] });
  });
});
