import { describe, expect, it } from 'vitest';
import { exclude } from './exclude.js';
import { runContract } from '../contract.js';
import { ctx, idsOf, rowSet } from '../testkit.js';
import { testRowSet } from '../../engine/testing.js';

runContract(exclude, {
  file: import.meta.url,
  rowSet: rowSet(),
  ctx: ctx(),
  valid: [{ ids: [1, 2] }, { dataset: 'purchases', where: { client_id: 1 } }, { ids: ['3'], dataset: 'inventory', where: { warehouse_id: [1, 2] } }],
  invalid: [{}, { where: { client_id: 1 } }, { ids: 5 }, { ids: [{ sku_id: 1 }] }, { dataset: 'purchases', column: 3 }],
  problems: [
    { params: { dataset: 'nope' }, path: '/dataset', code: 'UNKNOWN_DATASET' },
    { params: { dataset: 'purchases', where: { customer: 1 } }, path: '/where/customer', code: 'UNKNOWN_COLUMN' },
  ],
  errors: [
    { params: { dataset: 'nope' }, code: 'UNKNOWN_DATASET' },
    { params: { dataset: 'purchases', where: { customer: 1 } }, code: 'UNKNOWN_COLUMN' },
  ],
});

describe('Exclude', () => {
  const input = rowSet();
  const run = (p: Record<string, unknown>): number[] => idsOf(input, exclude.run(p as never, input, ctx()) as Int32Array);

  it('removes listed ids, numbers or numeric strings, keeping order', () => {
    expect(run({ ids: [1, '6', 42] })).toEqual([10, 3, 8, 2, 5, 7]);
  });

  it("removes ids a dataset lookup finds (client 1's purchases)", () => {
    expect(run({ dataset: 'purchases', where: { client_id: 1 } })).toEqual([10, 3, 1, 6, 5, 7]);
  });

  it('where lists mean membership, and ids and dataset combine', () => {
    expect(run({ ids: [10], dataset: 'inventory', where: { warehouse_id: [1] } })).toEqual([3, 6, 8, 2]);
    expect(run({ dataset: 'inventory', where: { warehouse_id: [1, 2], sku_id: 7 } })).toEqual([10, 3, 1, 6, 8, 2, 5]);
  });

  it('keeps everything when nothing matches', () => {
    expect(run({ dataset: 'purchases', where: { client_id: 77 } })).toEqual([10, 3, 1, 6, 8, 2, 5, 7]);
  });

  it('works on string item ids', () => {
    const s = testRowSet('sku_id', { sku_id: { kind: 'string', values: ['a', 'b', 'c'] } });
    const kept = exclude.run({ ids: ['b'] }, s, ctx()) as Int32Array;
    expect(Array.from(kept)).toEqual([0, 2]);
  });
});
