import { describe, expect, it } from 'vitest';
import { firstByValues, orderByValues } from './util.js';

describe('firstByValues', () => {
  it('is the prefix of the full order: ties by id then position, missing values last, both directions', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(rnd() * 300);
      const rows = Int32Array.from({ length: n }, () => Math.floor(rnd() * 1000));
      // Few distinct values so ties are common; some NaN.
      const values = Float64Array.from({ length: n }, () => (rnd() < 0.1 ? NaN : Math.floor(rnd() * 20)));
      const ids = Int32Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
      const desc = trial % 2 === 0;
      const limit = Math.floor(rnd() * 12);
      const full = orderByValues(rows, values, desc, ids);
      expect([...firstByValues(rows, values, desc, ids, limit)]).toEqual([...full.subarray(0, limit)]);
    }
  });
});
