import { describe, expect, it } from 'vitest';
import { limit } from './limit.js';
import { runContract } from '../contract.js';
import { ctx, idsOf, rowSet, now } from '../testkit.js';

runContract(limit, {
  file: import.meta.url,
  rowSet: rowSet(),
  ctx: ctx(),
  valid: [{ n: 3 }, { n: 0 }, { n: 100 }],
  invalid: [{}, { n: -1 }, { n: 2.5 }, { n: 'ten' }, { n: 1, offset: 2 }],
  errors: [{ params: { n: 'ten' }, code: 'BAD_PARAMETER' }],
});

describe('Limit', () => {
  const input = rowSet();
  it('keeps the first n rows in order', () => {
    expect(idsOf(input, now(limit.run({ n: 3 }, input, ctx())).rows!)).toEqual([10, 3, 1]);
  });
  it('n beyond the row count keeps all; n = 0 keeps none', () => {
    expect(now(limit.run({ n: 100 }, input, ctx())).rows).toHaveLength(8);
    expect(now(limit.run({ n: 0 }, input, ctx())).rows).toHaveLength(0);
  });
  it('returns a copy, not a view of the input selection', () => {
    const out = now(limit.run({ n: 2 }, input, ctx())).rows!;
    expect(out.buffer).not.toBe(input.rows.buffer);
  });
});
