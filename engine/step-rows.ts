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

/** A transform's new column: one value per input row. */
export function alignedColumn(name: string, col: Column, input: RowSet, label: string): Column {
  const len = isNumeric(col) ? col.length : col.kind === 'dict' ? col.codes.length : col.values.length;
  if (len !== input.rows.length) fail(label, `returned column '${name}' with ${len} values for ${input.rows.length} rows`);
  return col;
}
