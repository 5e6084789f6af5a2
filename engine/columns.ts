/**
 * Columns of frames and datasets, and the few helpers every operator uses on them (read a value,
 * gather rows, match values). Part of the public operator API: `engine/api.ts` re-exports all of it.
 */

/** A dictionary-encoded string column: `dictionary[codes[i]]`, code -1 is null. */
export interface DictColumn {
  readonly kind: 'dict';
  readonly codes: Int32Array;
  readonly dictionary: readonly string[];
}

/** Strings stored plainly (null allowed). */
export interface StringColumn {
  readonly kind: 'string';
  readonly values: readonly (string | null)[];
}

export type NumericArray = Int32Array | Float32Array | Float64Array;

/** A column of a frame or dataset. Numeric columns are plain typed arrays (NaN is null for floats). */
export type Column = NumericArray | DictColumn | StringColumn;

export type Scalar = string | number | boolean | null;

export function isNumeric(col: Column): col is NumericArray {
  return ArrayBuffer.isView(col);
}

export function columnLength(col: Column): number {
  if (isNumeric(col)) return col.length;
  return col.kind === 'dict' ? col.codes.length : col.values.length;
}

/** The value at row `i` (JS value; NaN floats come back as null). */
export function valueAt(col: Column, i: number): string | number | null {
  if (isNumeric(col)) {
    const v = col[i];
    return v === undefined || Number.isNaN(v) ? null : v;
  }
  if (col.kind === 'dict') {
    const c = col.codes[i] ?? -1;
    return c < 0 ? null : (col.dictionary[c] ?? null);
  }
  return col.values[i] ?? null;
}

/** Builds a new column holding `col[rows[k]]` for each k. */
export function gather(col: Column, rows: Int32Array): Column {
  const n = rows.length;
  if (isNumeric(col)) {
    const out = new (col.constructor as { new (n: number): NumericArray })(n);
    for (let k = 0; k < n; k++) out[k] = col[rows[k]!]!;
    return out;
  }
  if (col.kind === 'dict') {
    const codes = new Int32Array(n);
    const src = col.codes;
    for (let k = 0; k < n; k++) codes[k] = src[rows[k]!]!;
    return { kind: 'dict', codes, dictionary: col.dictionary };
  }
  const values = new Array<string | null>(n);
  for (let k = 0; k < n; k++) values[k] = col.values[rows[k]!] ?? null;
  return { kind: 'string', values };
}

/**
 * `col[at[k]]`, with null (NaN / code -1 / null) where `at[k]` is -1 (a row
 * the dataset lacks); integer columns widen to float64 to hold NaN then.
 */
export function gatherOrNull(col: Column, at: Int32Array): Column {
  let missing = false;
  for (let k = 0; k < at.length; k++) {
    if (at[k]! < 0) {
      missing = true;
      break;
    }
  }
  if (!missing) return gather(col, at);
  if (isNumeric(col)) {
    const out = new Float64Array(at.length);
    for (let k = 0; k < at.length; k++) out[k] = at[k]! < 0 ? NaN : col[at[k]!]!;
    return out;
  }
  if (col.kind === 'dict') {
    const codes = new Int32Array(at.length);
    for (let k = 0; k < at.length; k++) codes[k] = at[k]! < 0 ? -1 : col.codes[at[k]!]!;
    return { kind: 'dict', codes, dictionary: col.dictionary };
  }
  return { kind: 'string', values: Array.from(at, (r) => (r < 0 ? null : (col.values[r] ?? null))) };
}

/**
 * A predicate over a column that compares by value, working on dictionary
 * codes where it can (the dictionary is scanned once, not per row).
 */
export function equalsMask(col: Column, wanted: readonly Scalar[]): (row: number) => boolean {
  if (isNumeric(col)) {
    const set = new Set<number>();
    for (const w of wanted) if (typeof w === 'number') set.add(w);
      else if (typeof w === 'string' && w.trim() !== '' && !Number.isNaN(Number(w))) set.add(Number(w));
    if (set.size === 1) {
      const only = set.values().next().value as number;
      return (r) => col[r] === only;
    }
    return (r) => set.has(col[r]!);
  }
  const strs = new Set(wanted.filter((w) => w !== null).map((w) => String(w)));
  if (col.kind === 'dict') {
    const ok = new Uint8Array(col.dictionary.length);
    col.dictionary.forEach((d, i) => { if (strs.has(d)) ok[i] = 1; });
    const codes = col.codes;
    return (r) => { const c = codes[r]!; return c >= 0 && ok[c] === 1; };
  }
  const values = col.values;
  return (r) => { const v = values[r]; return v !== null && v !== undefined && strs.has(v); };
}
