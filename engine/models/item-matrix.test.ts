import { describe, expect, it } from 'vitest';
import { tableFromRows } from '../dataset.js';
import { ItemMatrix } from './item-matrix.js';

describe('ItemMatrix', () => {
  it('gathers the same model input as reading each column at each row, constants in their slots, across blocks', () => {
    const n = 10_000; // more than two blocks
    const rows = Array.from({ length: n }, (_, i) => ({ id: i + 1, a: i * 0.5, b: (i % 7) - 3, c: i % 11 === 0 ? null : i / 3 }));
    const ds = tableFromRows('items', rows, 'id');
    const columns = ['a', null, 'b', 'c', null];
    const m = ItemMatrix.build(ds, columns)!;
    const picked = Int32Array.from([9_999, 0, 4_100, 8_200, 5, 4_095, 4_096]);
    const constants = Float64Array.from([0, 1.25, 0, 0, -2]);
    const x = m.gather(picked, constants);
    const expected: number[] = [];
    for (const r of picked) {
      for (let j = 0; j < columns.length; j++) {
        const c = columns[j] ?? null;
        expected.push(c === null ? constants[j]! : (ds.column(c) as ArrayLike<number>)[r]!);
      }
    }
    expect(x).toHaveLength(picked.length * columns.length);
    expect([...x]).toEqual([...Float32Array.from(expected)]);
  });

  it('declines a layout with a string column', () => {
    const ds = tableFromRows('items', [{ id: 1, s: 'x', a: 1 }], 'id');
    expect(ItemMatrix.build(ds, ['a', 's'])).toBeUndefined();
  });
});
