import { describe, expect, it } from 'vitest';
import { range } from './range.js';
import { runContract } from '../contract.js';
import { ctx, idsOf, rowSet } from '../testkit.js';

runContract(range, {
  file: import.meta.url,
  rowSet: rowSet(),
  ctx: ctx(),
  valid: [{ column: 'price', min: 10 }, { column: 'price', max: 40, max_inclusive: false }, { column: 'price', min: 5, max: 60 }],
  invalid: [{ column: 'price' }, { min: 1 }, { column: 'price', min: 'cheap' }, { column: 'price', min: 'now-30 days' }, { column: 'price', max: 3, inclusive: true }],
  problems: [{ params: { column: 'price', min: 50, max: 10 }, path: '/min', code: 'BAD_PARAMETER' }],
  // Text reaches run only from a request input (a literal is checked at load): an input's error.
  errors: [{ params: { column: 'price', min: 'abc' }, code: 'INPUT_INVALID' }],
});

describe('Range', () => {
  it('takes an epoch-ms bound on a timestamp column, and an input\'s ISO text', () => {
    const at = new Float64Array([Date.UTC(2024, 8, 1), NaN, Date.UTC(2024, 9, 2)]);
    const frame = { length: 3, key: 'sku', has: (c: string) => c === 'at', column: () => at, columnNames: ['at'] };
    const rows = Int32Array.from([0, 1, 2]);
    const keep = (p: Record<string, unknown>): number[] => [...(range.run({ column: 'at', min_inclusive: true, max_inclusive: true, ...p } as never, { frame, rows }, ctx()) as Int32Array)];
    expect(keep({ min: Date.UTC(2024, 8, 15) })).toEqual([2]);
    expect(keep({ max: '2024-10-01T23:00:00-02:00' })).toEqual([0, 2]);
    expect(() => keep({ min: '2024-02-30' })).toThrow(/not a date of the calendar/);
  });

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
