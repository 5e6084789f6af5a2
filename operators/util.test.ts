import { describe, expect, it } from 'vitest';
import type { Column, Dataset } from '../engine/api.js';
import { testDataset } from '../engine/testing.js';
import { firstBy, firstByValues, orderBy, orderByValues, sortPositions, whereRows } from './util.js';

/** `ds` whose columns count the rows read from them (row reads after the value index, that is). */
function countingReads(ds: Dataset): { ds: Dataset; reads: () => number } {
  let reads = 0;
  const counted = (col: Column): Column => {
    if (ArrayBuffer.isView(col) || col.kind !== 'dict') throw new Error('test columns are text');
    const codes = new Proxy(col.codes, { get: (t, k) => { if (typeof k === 'string' && /^\d+$/.test(k)) reads++; const v = Reflect.get(t, k, t) as unknown; return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v; } });
    return { kind: 'dict', codes, dictionary: col.dictionary };
  };
  const wrapped: Dataset = {
    name: ds.name, length: ds.length, key: ds.key, columnNames: ds.columnNames,
    has: (c) => ds.has(c), column: (c) => counted(ds.column(c)), findRow: (c, v) => ds.findRow(c, v),
    rowsWhere: (c, v) => ds.rowsWhere(c, v), findRows: (c, v, at) => ds.findRows(c, v, at),
  };
  return { ds: wrapped, reads: () => reads };
}

describe('whereRows (issue 4: a large catalog, the broad column written first)', () => {
  const rows = Array.from({ length: 20_000 }, (_, i) => ({ sku: i, in_stock: i % 10 === 0 ? 'no' : 'yes', brand: `b${i % 1000}`, dept: `d${i % 7}` }));
  const table = testDataset('catalog', rows, 'sku');
  const want = (w: Record<string, string | string[]>): number[] => rows.flatMap((r, i) => (Object.entries(w).every(([c, v]) => (Array.isArray(v) ? v : [v]).includes((r as Record<string, unknown>)[c] as string)) ? [i] : []));

  it('reads the narrowest column\'s rows, not every in-stock row, whichever column comes first', () => {
    for (const where of [{ in_stock: 'yes', brand: 'b7' } as Record<string, string | string[]>, { brand: 'b7', in_stock: 'yes' }, { in_stock: 'yes', dept: 'd3', brand: ['b7', 'b8'] }]) {
      const { ds, reads } = countingReads(table);
      expect([...whereRows(ds, where)], JSON.stringify(where)).toEqual(want(where));
      // 20 rows of b7 (40 of b7, b8), each checked against the other columns: never the 18,000 in-stock rows.
      expect(reads(), JSON.stringify(where)).toBeLessThanOrEqual(2 * 40);
    }
  });

  it('answers as before when a value matches nothing, is null or an empty list', () => {
    expect([...whereRows(table, { in_stock: 'yes', brand: 'nope' })]).toEqual([]);
    expect([...whereRows(table, { in_stock: 'yes', brand: null })]).toEqual([]);
    expect([...whereRows(table, { in_stock: 'yes', brand: [] })]).toEqual([]);
    expect([...whereRows(table, { dept: ['d1', 'd2'], in_stock: 'no' })]).toEqual(want({ dept: ['d1', 'd2'], in_stock: 'no' }));
  });
});

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

describe('firstBy (issue 4: a Sort followed by a Limit orders only the first rows)', () => {
  it('is the prefix of orderBy for numbers and text, nulls, ties, both directions, any input order', () => {
    let seed = 5;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(rnd() * 400);
      const rows = Int32Array.from({ length: n }, (_, i) => (trial % 3 === 0 ? i : Math.floor(rnd() * 500)));
      const nums = Float64Array.from({ length: 500 }, (_, i) => (trial % 3 === 0 ? i : rnd() < 0.1 ? NaN : Math.floor(rnd() * 20)));
      const text: Column = { kind: 'dict', codes: Int32Array.from({ length: 500 }, () => Math.floor(rnd() * 8) - 1), dictionary: ['a', 'B', 'c', 'd', 'E', 'f', 'g'] };
      const ids = Int32Array.from({ length: 500 }, (_, i) => (i * 7919) % 300);
      const by = trial % 2 === 0 ? nums : text;
      const desc = trial % 4 < 2;
      const limit = Math.floor(rnd() * 30);
      const full = orderBy(rows, by, desc, ids);
      expect([...firstBy(rows, by, desc, ids, limit)], `trial ${trial}`).toEqual([...full.subarray(0, limit)]);
    }
  });

  it('compares about n log(limit) times on input in the worst order, not n times limit', () => {
    const n = 20_000;
    const rows = Int32Array.from({ length: n }, (_, i) => i);
    const ids = Int32Array.from({ length: n }, (_, i) => i);
    let reads = 0;
    // Ascending values, best last when descending: every row enters the top. Count reads of the ids.
    const countedIds = new Proxy(ids, { get: (t, k) => { if (typeof k === 'string' && /^\d+$/.test(k)) reads++; const v = Reflect.get(t, k, t) as unknown; return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v; } });
    const text: Column = { kind: 'dict', codes: Int32Array.from({ length: n }, (_, i) => i), dictionary: Array.from({ length: n }, (_, i) => String(i).padStart(6, '0')) };
    const top = firstBy(rows, text, true, countedIds as Column, 200);
    expect([...top.subarray(0, 3)]).toEqual([n - 1, n - 2, n - 3]);
    expect(reads).toBe(0); // no ties: ids never read
    // Comparisons, counted through the column's codes (two reads each, the isMissing checks included).
    let codeReads = 0;
    const codes = new Proxy(text.codes, { get: (t, k) => { if (typeof k === 'string' && /^\d+$/.test(k)) codeReads++; const v = Reflect.get(t, k, t) as unknown; return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v; } });
    firstBy(rows, { kind: 'dict', codes, dictionary: text.dictionary }, true, ids, 200);
    expect(codeReads).toBeLessThan(n * 4 * 2 * 10); // ~ n · log2(200) comparisons of 4 reads; n · 200 would be 100×
  });
});
