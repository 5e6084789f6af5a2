import { describe, expect, it } from 'vitest';
import { firstByValues, orderByValues, sortPositions } from './util.js';

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

describe('sortPositions', () => {
  it('gives the order of the builtin sort with the same comparator, at every size around its runs of 16', () => {
    let seed = 11;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const sizes = [0, 1, 2, 15, 16, 17, 31, 32, 33, 47, 64, 65, 100, 257, 1000, 2200];
    for (const n of sizes) {
      for (let trial = 0; trial < 5; trial++) {
        const values = Float64Array.from({ length: n }, () => (rnd() < 0.1 ? NaN : Math.floor(rnd() * (trial + 1) * 5)));
        const ids = Int32Array.from({ length: n }, (_, i) => (i * 7919) % Math.max(1, n >> 1));
        const cmp = (a: number, b: number): number => {
          const x = values[a]!, y = values[b]!;
          if (Number.isNaN(x) !== Number.isNaN(y)) return Number.isNaN(x) ? 1 : -1;
          if (x !== y && !Number.isNaN(x)) return y > x ? 1 : -1;
          return ids[a]! - ids[b]! || a - b;
        };
        const want = Int32Array.from({ length: n }, (_, i) => i).sort(cmp);
        const got = sortPositions(Int32Array.from({ length: n }, (_, i) => i), cmp);
        expect([...got], `n=${n} trial=${trial}`).toEqual([...want]);
      }
    }
  });
});
