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

  it('gathers shared candidates once and answers each request from them: runs of rows, the request constants in their slots', () => {
    const rows = Array.from({ length: 5000 }, (_, i) => ({ id: i + 1, a: i * 0.5, b: (i % 7) - 3 }));
    const ds = tableFromRows('items', rows, 'id');
    const columns = ['a', null, 'b'];
    const m = ItemMatrix.build(ds, columns)!;
    const shared = Int32Array.from([4_999, 7, 300, 301, 302, 4_096, 12]);
    const expectFor = (at: Int32Array, constants: Float64Array, x: Float32Array): void => {
      const expected: number[] = [];
      for (const k of at) expected.push(rows[shared[k]!]!.a, constants[1]!, rows[shared[k]!]!.b);
      expect([...x]).toEqual([...Float32Array.from(expected)]);
    };
    // All of them, then some (gaps make several runs), with different constants each time.
    for (const [at, c] of [[[0, 1, 2, 3, 4, 5, 6], 1.5], [[0, 2, 3, 6], -4], [[1, 4, 5], 0.25], [[], 9]] as const) {
      const constants = Float64Array.from([0, c, 0]);
      const base = { rows: shared, at: Int32Array.from(at) };
      expectFor(base.at, constants, m.gatherShared(base, constants));
    }
    // A different array with the same rows is other candidates: gathered anew, same values.
    const copy = { rows: Int32Array.from(shared), at: Int32Array.from([6, 0]) };
    expectFor(copy.at, Float64Array.from([0, 2, 0]), m.gatherShared(copy, Float64Array.from([0, 2, 0])));
  });

  it('declines a layout with a string column', () => {
    const ds = tableFromRows('items', [{ id: 1, s: 'x', a: 1 }], 'id');
    expect(ItemMatrix.build(ds, ['a', 's'])).toBeUndefined();
  });
});
