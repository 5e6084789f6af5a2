import { describe, expect, it } from 'vitest';
import { valueAt } from './api.js';
import { unionMinus } from './union.js';

describe('unionMinus', () => {
  it('an extra column comes from the first source that produced the id and answered that column', () => {
    // A Static list (no `tag`) before a Lookup with `columns: [tag]` blanked the tag of every id the
    // Static listed too: the row took its values from the first source that produced it, which has none.
    const staticIds = { ids: Int32Array.of(3, 1) };
    const lookup = { ids: Int32Array.of(2, 3, 2), columns: { tag: { kind: 'string' as const, values: ['x', 'y', 'z'] } } };
    const { frame, rows } = unionMinus('id', [staticIds, lookup], []);
    const got = Array.from(rows, (r) => [valueAt(frame.column('id'), r), valueAt(frame.column('tag'), r)]);
    expect(got).toEqual([[3, 'y'], [1, null], [2, 'x']]);
  });

  it('text ids find their value in a later source the same way', () => {
    const first = { ids: ['a', 'b'] };
    const second = { ids: ['b', 'c'], columns: { w: Float64Array.of(1.5, 2.5) } };
    const { frame, rows } = unionMinus('id', [first, second], [{ ids: ['c'] }]);
    expect(Array.from(rows, (r) => [valueAt(frame.column('id'), r), valueAt(frame.column('w'), r)])).toEqual([['a', null], ['b', 1.5]]);
  });
});
