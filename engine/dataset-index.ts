/**
 * Lookup indexes of a table's columns (value → first row for findRow/findRows, value → every row
 * for rowsWhere), built lazily on first use in each thread. The columns are shared memory handed to
 * every worker; these indexes are Maps and tables of the thread's own, so they are kept apart from
 * dataset.ts, which loads and describes tables: this file is how a loaded table is searched.
 */
import type { Column, Scalar } from './api.js';
import { columnLength, isNumeric, valueAt } from './api.js';

type GroupIndex = { offsets: Map<Scalar, [number, number]>; rows: Int32Array };

/** One table's indexes; `column` reads a column by name (and refuses a name the table lacks). */
export class ColumnIndexes {
  private readonly firstIndex = new Map<string, Map<Scalar, number> | Int32Array>();
  private readonly groupIndex = new Map<string, GroupIndex>();

  constructor(private readonly column: (name: string) => Column) {}

  findRow(column: string, value: Scalar): number {
    let idx = this.firstIndex.get(column);
    if (!idx) {
      idx = buildFirstIndex(this.column(column));
      this.firstIndex.set(column, idx);
    }
    const k = normalizeKey(this.column(column), value);
    if (k === undefined) return -1;
    if (idx instanceof Int32Array) {
      return typeof k === 'number' && Number.isInteger(k) && k >= 0 && k < idx.length ? idx[k]! : -1;
    }
    return idx.get(k) ?? -1;
  }

  findRows(column: string, values: Column, at?: Int32Array): Int32Array {
    let idx = this.firstIndex.get(column);
    if (!idx) {
      idx = buildFirstIndex(this.column(column));
      this.firstIndex.set(column, idx);
    }
    const n = at ? at.length : columnLength(values);
    const out = new Int32Array(n);
    if (idx instanceof Int32Array && values instanceof Int32Array) {
      // Dense integer keys: one direct-address load per value.
      const table = idx;
      const len = table.length;
      for (let k = 0; k < n; k++) {
        const v = values[at ? at[k]! : k]!;
        out[k] = v >= 0 && v < len ? table[v]! : -1;
      }
      return out;
    }
    for (let k = 0; k < n; k++) out[k] = this.findRow(column, valueAt(values, at ? at[k]! : k));
    return out;
  }

  rowsWhere(column: string, value: Scalar): Int32Array {
    let g = this.groupIndex.get(column);
    if (!g) {
      g = buildGroupIndex(this.column(column));
      this.groupIndex.set(column, g);
    }
    const k = normalizeKey(this.column(column), value);
    const span = k === undefined ? undefined : g.offsets.get(k);
    return span ? g.rows.subarray(span[0], span[1]) : new Int32Array(0);
  }
}

/** Map a lookup value to the form stored in the index for this column. */
function normalizeKey(col: Column, value: Scalar): Scalar | undefined {
  if (value === null) return undefined;
  if (isNumeric(col)) {
    const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    return Number.isNaN(n) ? undefined : n;
  }
  return String(value);
}

function keyAt(col: Column, i: number): Scalar {
  if (isNumeric(col)) return col[i]!;
  if (col.kind === 'dict') {
    const c = col.codes[i]!;
    return c < 0 ? null : col.dictionary[c]!;
  }
  return col.values[i] ?? null;
}

function buildFirstIndex(col: Column): Map<Scalar, number> | Int32Array {
  // Dense non-negative integer keys get a direct-address table (one Int32Array).
  if (col instanceof Int32Array && col.length > 0) {
    let max = 0;
    let min = 0;
    for (let i = 0; i < col.length; i++) {
      const v = col[i]!;
      if (v > max) max = v;
      if (v < min) min = v;
    }
    if (min >= 0 && max <= Math.max(1024, col.length * 4)) {
      const table = new Int32Array(max + 1).fill(-1);
      for (let i = 0; i < col.length; i++) if (table[col[i]!] === -1) table[col[i]!] = i;
      return table;
    }
  }
  const m = new Map<Scalar, number>();
  const n = isNumeric(col) ? col.length : col.kind === 'dict' ? col.codes.length : col.values.length;
  for (let i = 0; i < n; i++) {
    const k = keyAt(col, i);
    if (k !== null && !m.has(k)) m.set(k, i);
  }
  return m;
}

function buildGroupIndex(col: Column): GroupIndex {
  const n = isNumeric(col) ? col.length : col.kind === 'dict' ? col.codes.length : col.values.length;
  const counts = new Map<Scalar, number>();
  for (let i = 0; i < n; i++) {
    const k = keyAt(col, i);
    if (k !== null) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const offsets = new Map<Scalar, [number, number]>();
  let at = 0;
  for (const [k, c] of counts) {
    offsets.set(k, [at, at]);
    at += c;
  }
  const rows = new Int32Array(at);
  for (let i = 0; i < n; i++) {
    const k = keyAt(col, i);
    if (k === null) continue;
    const span = offsets.get(k)!;
    rows[span[1]++] = i;
  }
  return { offsets, rows };
}
