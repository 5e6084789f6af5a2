import { describe, expect, it } from 'vitest';
import { offset } from './offset.js';
import { runContract } from '../contract.js';
import { ctx, idsOf, rowSet, now } from '../testkit.js';

runContract(offset, {
  file: import.meta.url,
  rowSet: rowSet(),
  ctx: ctx(),
  valid: [{ n: 3 }, { n: 0 }, { n: 100 }],
  invalid: [{}, { n: -1 }, { n: 2.5 }, { n: 'ten' }, { n: 1, limit: 2 }],
  errors: [{ params: { n: 'ten' }, code: 'BAD_PARAMETER' }],
});

describe('Offset', () => {
  const input = rowSet();
  it('drops the first n rows and keeps the rest in order', () => {
    const all = idsOf(input, input.rows);
    expect(idsOf(input, now(offset.run({ n: 3 }, input, ctx())).rows!)).toEqual(all.slice(3));
  });
  it('n = 0 keeps all; n at or past the row count keeps none', () => {
    expect(now(offset.run({ n: 0 }, input, ctx())).rows).toHaveLength(8);
    expect(now(offset.run({ n: 8 }, input, ctx())).rows).toHaveLength(0);
    expect(now(offset.run({ n: 100 }, input, ctx())).rows).toHaveLength(0);
  });
  it('returns a copy, not a view of the input selection', () => {
    const out = now(offset.run({ n: 0 }, input, ctx())).rows!;
    expect(out.buffer).not.toBe(input.rows.buffer);
  });
});

describe('Offset.passesUpTo', () => {
  it('needs the first upTo + n rows of its input when only its first upTo rows are used', () => {
    expect(offset.passesUpTo!({ n: 10 }, 10)).toBe(20);
    expect(offset.passesUpTo!({ n: 0 }, 7)).toBe(7);
    expect(offset.passesUpTo!({ n: 'ten' } as never, 7)).toBeUndefined(); // run() reports it
  });
});
