/**
 * The rows a filter or transform hands back, checked against the operator API's contract before the
 * executor uses them: a filter keeps a subset of `input.rows` in their order, a transform selects
 * distinct rows among them, and columns are aligned with `input.rows`. A custom operator that
 * returned row 9999 or a row twice otherwise answered an item with a null id, or one item twice.
 */
import type { Column, RowSet } from './api.js';
import { isNumeric } from './api.js';
import { AirmailError } from './errors.js';

const fail = (label: string, why: string): never => {
  throw new AirmailError('OPERATOR_FAILED', `${label} ${why}`, { operator: label });
};

function asRows(out: unknown, label: string): Int32Array {
  if (out instanceof Int32Array) return out;
  if (Array.isArray(out) || (ArrayBuffer.isView(out) && !(out instanceof DataView))) {
    const list = out as ArrayLike<unknown>;
    for (let k = 0; k < list.length; k++) if (!Number.isInteger(list[k])) fail(label, `returned ${typeof list[k] === 'number' ? String(list[k]) : JSON.stringify(list[k]) ?? String(list[k])} as a row; rows are indices into the frame`);
    return Int32Array.from(list as ArrayLike<number>);
  }
  return fail(label, `returned ${out === null ? 'null' : typeof out} where a list of rows was expected`);
}


/** A filter's rows: a subsequence of the input rows (same order), so in range and distinct. */
export function filteredRows(out: unknown, input: RowSet, label: string): Int32Array {
  const rows = asRows(out, label);
  const src = input.rows;
  if (rows === src) return rows;
  let i = 0;
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!;
    while (i < src.length && src[i] !== r) i++;
    if (i === src.length) {
      if (src.includes(r) && Array.prototype.indexOf.call(rows, r) !== k) fail(label, `returned row ${r} twice; a filter returns the input rows it keeps, each once`);
      if (src.includes(r)) fail(label, `returned its rows out of order (row ${r}); a filter returns the input rows it keeps, in their order`);
      fail(label, `returned row ${r}, which is not one of its input rows`);
    }
    i++;
  }
  return rows;
}

/** selectedRows' marks, kept between calls (a thread runs one at a time) so a request allocates none. */
let scratch = new Uint8Array(0);

/** A transform's new selection: distinct rows among the input rows, in any order. */
export function selectedRows(out: unknown, input: RowSet, label: string): Int32Array {
  const rows = asRows(out, label);
  const src = input.rows;
  if (rows === src) return rows;
  const n = input.frame.length;
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, 2 * scratch.length));
  const state = scratch; // 1: an input row, 2: already selected; all 0 again on the way out
  for (let k = 0; k < src.length; k++) state[src[k]!] = 1;
  try {
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      const s = r >= 0 && r < n ? state[r]! : 0;
      if (s === 0) fail(label, `returned row ${r}, which is not one of its input rows`);
      if (s === 2) fail(label, `returned row ${r} twice; a transform selects each row at most once`);
      state[r] = 2;
    }
  } finally {
    for (let k = 0; k < src.length; k++) state[src[k]!] = 0;
  }
  return rows;
}

/**
 * Where a step wrongly changed its input rows in place: a check value taken before it ran, from the
 * length and 16 rows spread evenly from first to last. An operator sorting, reversing or filling
 * `input.rows` moves those; hashing every row instead took 25–35 µs of a GBDT request (two passes
 * over a few thousand rows per step), 5–7 % of its time, for a check that guards custom code only.
 */
export function rowsStamp(rows: Int32Array): number {
  const n = rows.length;
  let h = n;
  if (n === 0) return h;
  for (let k = 0; k < 16; k++) h = (Math.imul(h, 31) + rows[Math.floor((k * (n - 1)) / 15)]!) | 0;
  return h;
}

/** Fails the step when `input.rows` no longer matches the stamp taken before it ran. */
export function checkUntouched(rows: Int32Array, stamp: number, label: string): void {
  if (rowsStamp(rows) !== stamp) fail(label, `changed its input rows in place (input.rows is read-only: sort or reverse a copy, input.rows.slice())`);
}

/** A scorer's answer: one number (NaN or null: no score) per input row, as float64. */
export function scoreValues(out: unknown, n: number, label: string): Float64Array {
  if (out instanceof Float64Array && out.length === n) return out;
  if (!Array.isArray(out) && !(ArrayBuffer.isView(out) && !(out instanceof DataView))) {
    return fail(label, `returned ${out === null ? 'null' : typeof out} where one score per row was expected (a Float64Array or a list of numbers)`);
  }
  const list = out as ArrayLike<unknown>;
  if (list.length !== n) fail(label, `returned ${list.length} scores for ${n} rows`);
  const res = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const v = list[k];
    if (typeof v === 'number') res[k] = v;
    else if (v === null) res[k] = NaN;
    else fail(label, `returned ${JSON.stringify(v) ?? String(v)} as a score (at ${k}); a score is a number (null or NaN: none)`);
  }
  return res;
}

/** A transform's answer: an object with optional rows and columns. */
export function transformParts(out: unknown, label: string): { rows?: unknown; columns?: Record<string, unknown> } {
  if (!out || typeof out !== 'object' || Array.isArray(out) || ArrayBuffer.isView(out)) {
    return fail(label, `returned ${out === null ? 'null' : Array.isArray(out) || ArrayBuffer.isView(out) ? 'a list' : typeof out}; a transform returns {rows?, columns?}`);
  }
  const r = out as { rows?: unknown; columns?: unknown };
  if (r.columns !== undefined && (!r.columns || typeof r.columns !== 'object' || Array.isArray(r.columns))) fail(label, `returned columns as ${Array.isArray(r.columns) ? 'a list' : typeof r.columns}; columns is {name: column}`);
  return r as { rows?: unknown; columns?: Record<string, unknown> };
}

/**
 * A column as a step gave it: a Column, or a plain list of numbers (→ float64) or of text (→ a
 * string column), null allowed; a list mixing numbers and text is refused, never read as nulls.
 */
function asColumn(name: string, col: unknown, label: string): Column {
  if (isNumeric(col as Column)) return col as Column;
  const c = col as { kind?: unknown; codes?: unknown; values?: unknown };
  if (c && c.kind === 'dict' && c.codes instanceof Int32Array) return col as Column;
  if (c && c.kind === 'string' && Array.isArray(c.values)) return col as Column;
  if (Array.isArray(col)) {
    const num = col.findIndex((v) => typeof v === 'number');
    const str = col.findIndex((v) => typeof v === 'string');
    const other = col.findIndex((v) => v !== null && v !== undefined && typeof v !== 'number' && typeof v !== 'string');
    if (other >= 0) fail(label, `returned column '${name}' holding ${JSON.stringify(col[other]) ?? String(col[other])} (at ${other}); a column holds numbers or text`);
    if (num >= 0 && str >= 0) fail(label, `returned column '${name}' mixing numbers and text (${JSON.stringify(col[num])} at ${num}, ${JSON.stringify(col[str])} at ${str}); a column holds one type`);
    if (str >= 0) return { kind: 'string', values: col.map((v: unknown) => (typeof v === 'string' ? v : null)) };
    return Float64Array.from(col, (v: unknown) => (typeof v === 'number' ? v : NaN));
  }
  return fail(label, `returned column '${name}' as ${col === null ? 'null' : typeof col}; a column is a typed array, a list of numbers or of text, {kind: 'string', values} or {kind: 'dict', codes, dictionary}`);
}

/** A transform's new column: one value per input row. */
export function alignedColumn(name: string, given: unknown, input: RowSet, label: string): Column {
  const col = asColumn(name, given, label);
  const len = isNumeric(col) ? col.length : col.kind === 'dict' ? col.codes.length : col.values.length;
  if (len !== input.rows.length) fail(label, `returned column '${name}' with ${len} values for ${input.rows.length} rows`);
  return col;
}
