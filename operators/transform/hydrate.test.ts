import { describe, expect, it } from 'vitest';
import { hydrate } from './hydrate.js';
import { runContract } from '../contract.js';
import { ctx, rowSet, now, checkEnv } from '../testkit.js';
import { valueAt } from '../../engine/api.js';
import { testContext, testDataset, testRowSet } from '../../engine/testing.js';

runContract(hydrate, {
  file: import.meta.url,
  rowSet: rowSet(undefined, ['sku_id']),
  ctx: ctx(),
  valid: [{ columns: ['department', 'product_id'] }, { columns: ['price'], dataset: 'catalog' }],
  invalid: [{}, { columns: [] }, { columns: 'department' }, { columns: ['department'], dataset: '' }, { columns: ['department'], from: 'catalog' }],
  problems: [
    { params: { columns: ['colour'] }, path: '/columns/0', code: 'UNKNOWN_COLUMN' },
    { params: { columns: ['price'], dataset: 'nope' }, path: '/dataset', code: 'UNKNOWN_DATASET' },
  ],
  errors: [
    { params: { columns: ['colour'] }, code: 'UNKNOWN_COLUMN' },
    { params: { columns: ['price'] }, code: 'BAD_PARAMETER', ctx: testContext({ itemType: 'sku_id' }) },
  ],
});

describe('Hydrate', () => {
  it('gathers dataset columns for the live rows, aligned with them', () => {
    const input = rowSet([4, 0, 9], ['sku_id']);
    const out = now(hydrate.run({ columns: ['department', 'product_id', 'price'] }, input, ctx()));
    const cols = out.columns!;
    expect(out.rows).toBeUndefined();
    expect([0, 1, 2].map((k) => valueAt(cols['department']!, k))).toEqual(['shoes', 'shoes', 'bags']);
    expect(Array.from(cols['product_id'] as Int32Array)).toEqual([200, 100, 400]);
    expect(Array.from(cols['price'] as Float64Array)).toEqual([5, 10, 70]);
  });

  it('gives ids the dataset lacks null / NaN (ints widen to float)', () => {
    const input = testRowSet('sku_id', { sku_id: Int32Array.of(1, 999, 3) }, [1, 2, 0]);
    const cols = now(hydrate.run({ columns: ['product_id', 'department'] }, input, ctx())).columns!;
    expect(Array.from(cols['product_id'] as Float64Array)).toEqual([NaN, 100, 100]);
    expect([0, 1, 2].map((k) => valueAt(cols['department']!, k))).toEqual([null, 'hats', 'shoes']);
  });

  it('uses the named dataset and its key, without an items dataset', () => {
    const sizes = testDataset('sizes', [{ code: 'a', label: 'small' }, { code: 'b', label: 'big' }], 'code');
    const input = testRowSet('sku_id', { sku_id: { kind: 'string', values: ['b', 'a', 'z'] } });
    const c = testContext({ itemType: 'sku_id', datasets: [sizes] });
    const cols = now(hydrate.run({ columns: ['label'], dataset: 'sizes' }, input, c)).columns!;
    expect([0, 1, 2].map((k) => valueAt(cols['label']!, k))).toEqual(['big', 'small', null]);
  });

  it('declares what it writes and is rowwise', () => {
    expect(hydrate.writes!({ columns: ['a', 'b'] }, checkEnv)).toEqual(['a', 'b']);
    expect(hydrate.rowwise).toBe(true);
  });
});
