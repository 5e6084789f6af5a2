/**
 * Datasets: named read-only tables, loaded once in the main thread into
 * SharedArrayBuffer-backed columns and handed to every worker by reference.
 * Indexes (key → row, value → rows) are built lazily per thread (dataset-index.ts).
 */
import { readFile } from 'node:fs/promises';
import { tableFromIPC, type Table as ArrowTable, type Vector } from 'apache-arrow';
import { AirmailError } from './errors.js';
import type { Column, Dataset, DictColumn, NumericArray, Scalar } from './api.js';
import { isNumeric } from './api.js';
import { ColumnIndexes } from './dataset-index.js';
import { csvRecords, LEADING_ZERO_CELL, NUMBER_CELL } from './csv.js';
import { instantCell, instantColumn } from './time.js';

/** The transferable description of a dataset (what crosses into workers). */
export interface DatasetHandle {
  readonly name: string;
  readonly key: string | undefined;
  readonly length: number;
  readonly columns: Readonly<Record<string, Column>>;
  /** Columns that held JSON booleans, stored as 1 and 0: such a column is no id column. */
  readonly booleans?: readonly string[];
  /** Columns of instants (`timestamp`), epoch ms in float64: answers give them as ISO text. */
  readonly instants?: readonly string[];
}

export class Table implements Dataset {
  readonly name: string;
  readonly key: string | undefined;
  readonly length: number;
  readonly columnNames: readonly string[];
  private readonly booleans: readonly string[] | undefined;
  private readonly instants: readonly string[] | undefined;
  private readonly cols: Readonly<Record<string, Column>>;
  private readonly indexes = new ColumnIndexes((name) => this.column(name));

  constructor(handle: DatasetHandle) {
    this.name = handle.name;
    this.key = handle.key;
    this.length = handle.length;
    this.cols = handle.columns;
    this.columnNames = Object.keys(handle.columns);
    this.booleans = handle.booleans;
    this.instants = handle.instants;
  }

  get handle(): DatasetHandle {
    return { name: this.name, key: this.key, length: this.length, columns: this.cols, ...(this.booleans ? { booleans: this.booleans } : {}), ...(this.instants ? { instants: this.instants } : {}) };
  }

  holdsBooleans(column: string): boolean {
    return this.booleans !== undefined && this.booleans.includes(column);
  }

  holdsInstants(column: string): boolean {
    return this.instants !== undefined && this.instants.includes(column);
  }

  /** What a "no such column" message says the table holds: a table read from no rows has no columns at all. */
  columnsNote(): string {
    return this.columnNames.length > 0 ? `it has: ${this.columnNames.join(', ')}` : 'it is empty: it was read from no rows, so it has no columns';
  }

  has(column: string): boolean {
    return Object.hasOwn(this.cols, column);
  }

  column(name: string): Column {
    const c = Object.hasOwn(this.cols, name) ? this.cols[name] : undefined;
    if (!c) {
      throw new AirmailError('UNKNOWN_COLUMN', `dataset '${this.name}' has no column '${name}' (${this.columnsNote()})`);
    }
    return c;
  }

  findRow(column: string, value: Scalar): number {
    return this.indexes.findRow(column, value);
  }

  findRows(column: string, values: Column, at?: Int32Array): Int32Array {
    return this.indexes.findRows(column, values, at);
  }

  rowsWhere(column: string, value: Scalar): Int32Array {
    return this.indexes.rowsWhere(column, value);
  }
}

// ---------------------------------------------------------------- loading

function sharedCopy<T extends NumericArray>(src: ArrayLike<number>, Ctor: { new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number }): T {
  const out = new Ctor(new SharedArrayBuffer(Math.max(1, src.length) * Ctor.BYTES_PER_ELEMENT));
  const view = src.length === out.length ? out : (out.subarray(0, src.length) as T);
  (view as unknown as { set(a: ArrayLike<number>): void }).set(src);
  return src.length === out.length ? out : (view as T);
}

function fromArrowVector(name: string, v: Vector, file: string): Column {
  const t = v.type as { typeId: number; toString(): string };
  const typeName = String(v.type);
  const n = v.length;
  if (typeName.startsWith('Dictionary') || typeName === 'Utf8' || typeName === 'LargeUtf8') {
    const values: (string | null)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const x = v.get(i) as unknown;
      values[i] = x === null || x === undefined ? null : String(x);
    }
    return dictEncode(values);
  }
  if (t.typeId === ARROW_DATE || t.typeId === ARROW_TIMESTAMP) {
    // Epoch ms; apache-arrow divides us/ns as floats (.250 in ns reads 249.9998): floored exactly here.
    const out = new Float64Array(new SharedArrayBuffer(Math.max(1, n) * 8)).subarray(0, n);
    const per = t.typeId === ARROW_TIMESTAMP ? SUB_MS_PER_MS[(v.type as { unit: number }).unit] : undefined;
    if (per !== undefined) {
      let at = 0;
      for (const chunk of v.data) {
        const raw = chunk.values as unknown as BigInt64Array;
        for (let i = 0; i < chunk.length; i++, at++) {
          if (!chunk.getValid(i)) { out[at] = NaN; continue; }
          const x = raw[i]!;
          const q = x / per;
          out[at] = Number(x % per < 0n ? q - 1n : q);
        }
      }
      return out;
    }
    for (let i = 0; i < n; i++) { const x = v.get(i) as unknown; out[i] = x === null || x === undefined ? NaN : Number(x); }
    return out;
  }
  const arr = v.toArray() as unknown;
  if (arr instanceof Int32Array || arr instanceof Int16Array || arr instanceof Int8Array || arr instanceof Uint16Array || arr instanceof Uint8Array) {
    return sharedCopy(arr, Int32Array);
  }
  if (arr instanceof Float32Array) return sharedCopy(arr, Float32Array);
  if (arr instanceof Float64Array) return sharedCopy(arr, Float64Array);
  if (arr instanceof BigInt64Array || arr instanceof Uint32Array || arr instanceof BigUint64Array) {
    const out = new Float64Array(new SharedArrayBuffer(Math.max(1, n) * 8)).subarray(0, n);
    for (let i = 0; i < n; i++) out[i] = Number(v.get(i));
    return out;
  }
  if (typeName === 'Bool') {
    const out = new Int32Array(new SharedArrayBuffer(Math.max(1, n) * 4)).subarray(0, n);
    for (let i = 0; i < n; i++) out[i] = v.get(i) ? 1 : 0;
    return out;
  }
  throw new AirmailError('DATASET_LOAD_FAILED', `${file}: column '${name}' has Arrow type ${t.toString()}, which datasets do not support (use int, float, bool, utf8, dictionary, date or timestamp)`);
}

const ARROW_DATE = 8;
const ARROW_TIMESTAMP = 10;
/** Arrow TimeUnit (MICROSECOND 2, NANOSECOND 3): units in one millisecond. */
const SUB_MS_PER_MS: Readonly<Record<number, bigint>> = { 2: 1_000n, 3: 1_000_000n };

/**
 * Row of the first value of a numeric column that is no exact integer id: one past ±(2^53 − 1),
 * where a double stops counting by one (9007199254740993 reads as 9007199254740992, so two ids
 * merge), or ±Infinity; -1 when there is none. An int32 column holds none. A file's reader has
 * already lost the digits, so such ids are refused where a column is used as ids, never served.
 */
export function firstUnsafeInteger(col: Column): number {
  if (!isNumeric(col) || col instanceof Int32Array) return -1;
  for (let i = 0; i < col.length; i++) {
    const v = col[i]!;
    if (v > Number.MAX_SAFE_INTEGER || v < -Number.MAX_SAFE_INTEGER) return i;
  }
  return -1;
}

/** How to keep ids past 2^53 exact: read them as text. */
export const TEXT_IDS_HINT = 'ids that large must be text: write them as JSON strings ("9007199254740993"), declare a CSV column `columns: {NAME: string}`, or store an Arrow column as utf8';

/**
 * Why `column` of `ds` cannot be used as item ids or keys (booleans, or see firstUnsafeInteger), or undefined.
 * `use` says what the column is used as ("its key", "the item ids of Lookup").
 */
export function unsafeIdProblem(ds: Dataset, column: string, use: string): string | undefined {
  if (!ds.has(column)) return undefined;
  if (ds.holdsBooleans?.(column)) return `dataset '${ds.name}': column '${column}' (${use}) holds true/false, which are no ids (they read as 1 and 0)`;
  const col = ds.column(column);
  const row = firstUnsafeInteger(col);
  if (row < 0) return undefined;
  const v = (col as NumericArray)[row]!;
  return `dataset '${ds.name}': column '${column}' (${use}) holds ${v} in data row ${row + 1}, past the largest integer a number holds exactly (±9007199254740991), so ids there are rounded and may merge; ${TEXT_IDS_HINT.replace('NAME', column)}`;
}

/** Dictionary-encode a list of strings into shared memory. */
export function dictEncode(values: readonly (string | null)[]): DictColumn {
  const codes = new Int32Array(new SharedArrayBuffer(Math.max(1, values.length) * 4)).subarray(0, values.length);
  const dictionary: string[] = [];
  const seen = new Map<string, number>();
  values.forEach((s, i) => {
    if (s === null || s === undefined) {
      codes[i] = -1;
      return;
    }
    let c = seen.get(s);
    if (c === undefined) {
      c = dictionary.length;
      dictionary.push(s);
      seen.set(s, c);
    }
    codes[i] = c;
  });
  return { kind: 'dict', codes, dictionary };
}

/**
 * Columns, rows and answers are plain objects keyed by column name, so a column named `__proto__`
 * (a CSV header, a JSON key, an Arrow field, an upstream's row) would be assigned as an object's
 * prototype and vanish in silence: refused, by name.
 */
function columnName(c: string): string {
  if (c === '__proto__') throw new Error("a column is named '__proto__', which no row or answer object can hold as a key: rename it");
  return c;
}

/** `o[k]` when `o` has it as its own: a column named `constructor` or `valueOf` is not Object.prototype's. */
function own<T>(o: Readonly<Record<string, T>> | undefined, k: string): T | undefined {
  return o !== undefined && Object.hasOwn(o, k) ? o[k] : undefined;
}

export function tableFromArrow(name: string, table: ArrowTable, key: string | undefined, file: string): Table {
  const columns: Record<string, Column> = {};
  const instants: string[] = [];
  for (const field of table.schema.fields) {
    const vec = table.getChild(field.name);
    if (vec) columns[columnName(field.name)] = fromArrowVector(field.name, vec, file);
    if (vec && (field.typeId === ARROW_DATE || field.typeId === ARROW_TIMESTAMP)) instants.push(field.name);
  }
  return new Table({ name, key, length: table.numRows, columns, ...(instants.length > 0 ? { instants } : {}) });
}

/**
 * The value of a JSON cell in a column declared `integer` or `number`: a number (or a boolean, read
 * as 1/0 like any JSON boolean) as it is, and a numeric text (`"3.5"`, `" 7 "`) as its number, as a
 * CSV cell is read; any other text, an object or an array is refused, naming the 1-based row.
 */
function declaredNumber(v: unknown, column: string, want: 'integer' | 'number', row: number): unknown {
  if (v === null || v === undefined || typeof v === 'boolean') return v;
  const t = typeof v === 'string' ? v.trim() : undefined;
  const n = typeof v === 'number' ? v : t !== undefined && t !== '' && NUMBER_CELL.test(t) ? Number(t) : t === '' ? null : NaN;
  if (n === null) return null;
  if (typeof n !== 'number' || Number.isNaN(n) || (want === 'integer' && !Number.isInteger(n))) {
    throw new Error(`column '${column}' is declared ${want}, but row ${row} holds ${JSON.stringify(v)?.slice(0, 40)}`);
  }
  return n;
}

/**
 * The value of a JSON cell in a column declared `string`: a number or boolean as its JSON text
 * (`123` → `"123"`, so ids written as numbers match the same ids written as text), except a whole
 * number past 2^53, which JSON.parse has already rounded: that is refused, naming the 1-based row.
 */
function declaredText(v: unknown, column: string, row: number): unknown {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && !Number.isSafeInteger(v)) {
      throw new Error(`column '${column}' is declared string, but row ${row} holds the number ${v}, past 2^53: JSON has already rounded it; write it as a JSON string`);
    }
    return String(v);
  }
  return typeof v === 'boolean' ? String(v) : v;
}

/**
 * Build a dataset from JSON rows (objects); numbers become float64 or int32, strings dictionary-encoded.
 * A column declared `integer` or `number` reads numeric text as its number and refuses other text;
 * one declared `string` reads numbers and booleans as their text.
 */
export function tableFromRows(name: string, rows: readonly Record<string, unknown>[], key: string | undefined, declared?: DeclaredColumns): Table {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) if (!seen.has(k)) { seen.add(k); names.push(columnName(k)); }
  const columns: Record<string, Column> = {};
  const booleans: string[] = [];
  const instants: string[] = [];
  for (const c of names) {
    const want = own(declared, c);
    if (want === 'timestamp') {
      instants.push(c);
      columns[c] = sharedCopy(instantColumn(rows.map((r) => own(r, c)), c), Float64Array);
      continue;
    }
    const vals = want === 'integer' || want === 'number' ? rows.map((r, i) => declaredNumber(own(r, c), c, want, i + 1)) : want === 'string' ? rows.map((r, i) => declaredText(own(r, c), c, i + 1)) : rows.map((r) => own(r, c));
    const allNum = vals.every((v) => v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean');
    if (allNum) {
      if (vals.some((v) => typeof v === 'boolean')) booleans.push(c);
      const allInt = vals.every((v) => v !== null && v !== undefined && (typeof v === 'boolean' || (Number.isInteger(v) && Math.abs(v as number) < 2 ** 31)));
      if (allInt) {
        columns[c] = sharedCopy(vals.map((v) => Number(v)), Int32Array);
      } else {
        columns[c] = sharedCopy(vals.map((v) => (v === null || v === undefined ? NaN : Number(v))), Float64Array);
      }
    } else {
      columns[c] = dictEncode(vals.map((v) => (v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v))));
    }
  }
  return new Table({ name, key, length: rows.length, columns, ...(booleans.length > 0 ? { booleans } : {}), ...(instants.length > 0 ? { instants } : {}) });
}

/** Column types a dataset entry declares (`columns:`): for columns the data may lack, and a CSV file's column types. */
export type DeclaredColumns = Readonly<Record<string, 'integer' | 'number' | 'string' | 'timestamp'>>;

/**
 * A CSV file's table (header row, RFC 4180 quoting). A column is numeric when every non-empty cell is
 * a plain decimal number, else text; an empty cell is null (NaN in a numeric column, which is then
 * float64, as in JSON rows). A declared type wins: `string` keeps `007` as text, `integer` and
 * `number` refuse a cell that is not one, naming its row.
 */
export function tableFromCsv(name: string, text: string, key: string | undefined, declared: DeclaredColumns | undefined, file: string): Table {
  const { header, records } = csvRecords(text, file);
  header.forEach(columnName);
  const columns: Record<string, Column> = {};
  const instants: string[] = [];
  header.forEach((c, j) => {
    const raw = records.map((r) => r[j]!);
    const cells = raw.map((v) => v.trim());
    const want = own(declared, c);
    if (want === 'timestamp') {
      instants.push(c);
      columns[c] = sharedCopy(cells.map((t, i) => instantCell(t, c, i + 2)), Float64Array);
      return;
    }
    const numeric = want !== undefined ? want !== 'string' : cells.some((t) => t !== '') && cells.every((t) => t === '' || (NUMBER_CELL.test(t) && !LEADING_ZERO_CELL.test(t)));
    if (!numeric) {
      columns[c] = dictEncode(raw.map((v, i) => (cells[i] === '' ? null : v)));
      return;
    }
    const values = cells.map((t, i) => {
      if (t === '') return NaN;
      const n = NUMBER_CELL.test(t) ? Number(t) : NaN;
      if (Number.isNaN(n) || (want === 'integer' && !Number.isInteger(n))) {
        throw new Error(`column '${c}' is declared ${want ?? 'number'}, but row ${i + 2} holds ${JSON.stringify(raw[i]!.slice(0, 40))}`);
      }
      return n;
    });
    const int32 = values.every((v) => Number.isInteger(v) && Math.abs(v) < 2 ** 31);
    columns[c] = int32 ? sharedCopy(values, Int32Array) : sharedCopy(values, Float64Array);
  });
  return new Table({ name, key, length: records.length, columns, ...(instants.length > 0 ? { instants } : {}) });
}

/**
 * The table with the declared columns it lacks added, every value null. A JSON dataset takes its
 * columns from its rows, so an empty one (no purchases yet) has none, and a config that reads
 * `client_id` from it could not load; a declared column of the rows' type is the same table.
 * A column the rows hold only as null (or leave out) has no type of its own: it reads as numbers,
 * so `columns: {size: string}` is what it is instead (else `where: {size: S}` would be refused at
 * load as text against a number column, while the same file with one size in it loads).
 */
export function withColumns(table: Table, declared: DeclaredColumns | undefined): Table {
  const missing = Object.entries(declared ?? {}).filter(([c, type]) => !table.has(c) || ((type === 'string' || type === 'timestamp') && onlyNulls(table.column(c)) && !table.holdsInstants(c)));
  if (missing.length === 0) return table;
  const { name, key, length, columns, booleans, instants } = table.handle;
  const added: Record<string, Column> = { ...columns };
  const timed = [...(instants ?? []), ...missing.filter(([, t]) => t === 'timestamp').map(([c]) => c)];
  for (const [c, type] of missing) {
    // Int32Array holds no null: an integer column with nulls is float64 NaN, as tableFromRows makes it.
    added[c] = type === 'string' ? dictEncode(new Array<null>(length).fill(null)) : length === 0 && type === 'integer' ? sharedCopy([], Int32Array) : sharedCopy(new Array<number>(length).fill(NaN), Float64Array);
  }
  return new Table({ name, key, length, columns: added, ...(booleans ? { booleans } : {}), ...(timed.length > 0 ? { instants: timed } : {}) });
}

/**
 * An Arrow file carries its own column types, so a declaration that disagrees (`string` over an
 * int32 column, `number` over utf8) would be ignored in silence: refused instead, naming the column.
 * `integer` and `number` both fit any numeric column; a column of only nulls fits any declaration.
 */
function declaredArrowTypes(table: Table, declared: DeclaredColumns | undefined): Table {
  for (const [c, want] of Object.entries(declared ?? {})) {
    if (!table.has(c)) continue;
    const col = table.column(c);
    const numeric = isNumeric(col);
    if (numeric && onlyNulls(col)) continue;
    if ((want === 'timestamp') !== table.holdsInstants(c)) {
      throw new Error(`column '${c}' is declared ${want}, but the Arrow file holds it as ${table.holdsInstants(c) ? 'a Date or Timestamp' : numeric ? 'numbers' : 'text'} (an Arrow file's types are its own: change the declaration or write the column as ${want === 'timestamp' ? 'a Date or Timestamp type' : 'that type'})`);
    }
    if (numeric === (want !== 'string')) continue;
    throw new Error(`column '${c}' is declared ${want}, but the Arrow file holds it as ${numeric ? 'numbers' : 'text'} (an Arrow file's types are its own: change the declaration or write the column as ${want === 'string' ? 'utf8' : 'a number type'})`);
  }
  return table;
}

/** A number column with no value in it: every row NaN (a JSON column of nulls and absent keys). */
function onlyNulls(col: Column): boolean {
  return isNumeric(col) && col.every((v) => Number.isNaN(v));
}

export async function loadDatasetFile(name: string, path: string, format: 'arrow' | 'json' | 'csv', key: string | undefined, declared?: DeclaredColumns): Promise<Table> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new AirmailError('DATASET_LOAD_FAILED', `dataset '${name}': cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    if (format === 'arrow') return declaredArrowTypes(tableFromArrow(name, tableFromIPC(bytes), key, path), declared);
    if (format === 'csv') return tableFromCsv(name, bytes.toString('utf8'), key, declared, path);
    const text = bytes.toString('utf8');
    // A file being written, or emptied by mistake, says so (JSON.parse says only "Unexpected end of JSON input").
    if (text.trim() === '') throw new Error('the file is empty; a dataset of no rows is written [] (with columns: to declare its columns)');
    const parsed = JSON.parse(text) as unknown;
    const rows = Array.isArray(parsed) ? parsed : (parsed as { rows?: unknown }).rows;
    if (!Array.isArray(rows) || !rows.every((r) => r && typeof r === 'object' && !Array.isArray(r))) {
      throw new Error('expected a JSON array of row objects (or {"rows": [...]})');
    }
    return tableFromRows(name, rows as Record<string, unknown>[], key, declared);
  } catch (err) {
    if (err instanceof AirmailError) throw err;
    throw new AirmailError('DATASET_LOAD_FAILED', `dataset '${name}': cannot decode ${path} as ${format}: ${(err as Error).message}`);
  }
}

