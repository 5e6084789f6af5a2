import { describe, expect, it } from 'vitest';
import type { Frame, RowSet } from './api.js';
import { selectedRows } from './step-rows.js';

const input = (n: number, rows: number[]): RowSet => ({ frame: { length: n } as Frame, rows: Int32Array.from(rows) });

describe('selectedRows', () => {
  it('keeps its marks between calls clean, after a refusal too (they are shared, not allocated per call)', () => {
    expect(() => selectedRows([2, 2], input(5, [0, 2, 4]), 'T')).toThrow('T returned row 2 twice');
    // Row 2 was marked selected by the refused call; a call where 2 is not an input row must still refuse it.
    expect(() => selectedRows([2], input(5, [0, 4]), 'T')).toThrow('T returned row 2, which is not one of its input rows');
    expect(Array.from(selectedRows([4, 0], input(5, [0, 4]), 'T'))).toEqual([4, 0]);
    // A larger frame than any before grows the marks.
    expect(Array.from(selectedRows([999], input(1000, [5, 999]), 'T'))).toEqual([999]);
    expect(() => selectedRows([7], input(1000, [5, 999]), 'T')).toThrow('not one of its input rows');
  });
});
