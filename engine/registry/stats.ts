/**
 * Sample tables (Arrow IPC, JSON rows or CSV text) → typed columns, the function shape they imply,
 * and per-feature summary statistics.
 *
 * Statistics: count (non-null), nulls, mean, std (sample, n-1), min, max, quantiles p01..p99 (linear
 * interpolation between order statistics, as numpy's default) for numeric columns; top 10 values with
 * counts and the number of distinct values for string and bool columns.
 */
import { tableFromIPC, DataType, type Vector } from 'apache-arrow';
import type { ColumnSpec, ColumnType, FeatureStats } from './envelope.js';
import { RegistryError } from './errors.js';
import { csvRecords, type CsvRecords } from '../csv.js';

export type SampleFormat = 'arrow' | 'json' | 'csv';

export interface SampleColumn {
  readonly name: string;
  readonly type: ColumnType;
  /** Numeric and bool columns (bool as 0/1); NaN marks null. */
  readonly numbers?: Float64Array;
  /** String columns. */
  readonly strings?: readonly (string | null)[];
}

export interface SampleTable {
  readonly rows: number;
  readonly columns: readonly SampleColumn[];
}

const QUANTILES: readonly [string, number][] = [['p01', 0.01], ['p05', 0.05], ['p25', 0.25], ['p50', 0.5], ['p75', 0.75], ['p95', 0.95], ['p99', 0.99]];
const TOP_K = 10;

function fail(message: string, cause?: unknown): never {
  throw new RegistryError('SAMPLE_INVALID', message, cause === undefined ? {} : { cause });
}

/** Guesses the format from the bytes: Arrow magic / stream marker, JSON bracket, else CSV. */
export function detectSampleFormat(bytes: Uint8Array): SampleFormat {
  const head = new TextDecoder().decode(bytes.subarray(0, 6));
  if (head === 'ARROW1') return 'arrow';
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xff && bytes[2] === 0xff && bytes[3] === 0xff) return 'arrow';
  const first = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart()[0];
  return first === '[' || first === '{' ? 'json' : 'csv';
}

export function readSample(bytes: Uint8Array, format: SampleFormat = detectSampleFormat(bytes)): SampleTable {
  if (format === 'arrow') return fromArrow(bytes);
  const text = new TextDecoder().decode(bytes);
  if (format === 'json') {
    let parsed: unknown;
    try { parsed = JSON.parse(text); } catch (err) { fail(`sample is not valid JSON: ${(err as Error).message}`, err); }
    const rows = Array.isArray(parsed) ? parsed : (parsed as { rows?: unknown } | null)?.rows;
    if (!Array.isArray(rows) || !rows.every((r) => r && typeof r === 'object' && !Array.isArray(r))) {
      fail('a JSON sample must be an array of row objects or {"rows": [...]}');
    }
    return fromRows(rows as Record<string, unknown>[]);
  }
  return fromCsv(text);
}

function arrowType(t: DataType): ColumnType | undefined {
  if (DataType.isDictionary(t)) return arrowType(t.dictionary);
  if (DataType.isFloat(t)) return t.precision === 2 ? 'float64' : 'float32';
  if (DataType.isInt(t)) return t.bitWidth === 64 ? 'int64' : 'int32';
  if (DataType.isBool(t)) return 'bool';
  if (DataType.isUtf8(t) || DataType.isLargeUtf8(t)) return 'string';
  return undefined;
}

function fromArrow(bytes: Uint8Array): SampleTable {
  let table;
  try { table = tableFromIPC(bytes); } catch (err) { fail(`sample is not a readable Arrow IPC file or stream: ${(err as Error).message}`, err); }
  const columns: SampleColumn[] = [];
  for (const field of table.schema.fields) {
    const type = arrowType(field.type);
    if (!type) fail(`sample column '${field.name}' has Arrow type ${String(field.type)}; supported: float, int, bool, utf8 (plain or dictionary)`);
    const vec = table.getChild(field.name) as Vector;
    if (type === 'string') {
      const strings: (string | null)[] = new Array(vec.length);
      for (let i = 0; i < vec.length; i++) { const v = vec.get(i) as unknown; strings[i] = v === null || v === undefined ? null : String(v); }
      columns.push({ name: field.name, type, strings });
      continue;
    }
    const numbers = new Float64Array(vec.length);
    for (let i = 0; i < vec.length; i++) {
      const v = vec.get(i) as unknown;
      numbers[i] = v === null || v === undefined ? NaN : Number(v);
    }
    columns.push({ name: field.name, type, numbers });
  }
  return { rows: table.numRows, columns };
}

function fromValues(name: string, vals: readonly unknown[]): SampleColumn {
  const present = vals.filter((v) => v !== null && v !== undefined && v !== '');
  if (present.length > 0 && present.every((v) => typeof v === 'boolean')) {
    return { name, type: 'bool', numbers: Float64Array.from(vals, (v) => (typeof v === 'boolean' ? Number(v) : NaN)) };
  }
  if (present.every((v) => typeof v === 'number')) {
    const ints = present.every((v) => Number.isInteger(v) && Math.abs(v as number) < 2 ** 31);
    return { name, type: ints && present.length > 0 ? 'int32' : 'float64', numbers: Float64Array.from(vals, (v) => (typeof v === 'number' ? v : NaN)) };
  }
  return { name, type: 'string', strings: vals.map((v) => (v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v))) };
}

export function fromRows(rows: readonly Record<string, unknown>[]): SampleTable {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) if (!seen.has(k)) { seen.add(k); names.push(k); }
  return { rows: rows.length, columns: names.map((n) => fromValues(n, rows.map((r) => r[n]))) };
}

/** RFC 4180 CSV with a header row; numbers and true/false are typed, empty cells are null. */
export function fromCsv(text: string): SampleTable {
  let parsed: CsvRecords;
  try { parsed = csvRecords(text, 'a CSV sample'); } catch (err) { fail((err as Error).message.replace('a CSV sample: row', 'CSV sample row'), err); }
  const { header, records } = parsed;
  const cell = (s: string): unknown => {
    const t = s.trim();
    if (t === '') return null;
    if (t === 'true' || t === 'false') return t === 'true';
    const n = Number(t);
    return Number.isNaN(n) && t !== 'NaN' ? s : n;
  };
  return { rows: records.length, columns: header.map((h, j) => fromValues(h, records.map((r) => cell(r[j]!)))) };
}

/** The columns of a sample as a shape, in sample order. */
export function shapeOf(sample: SampleTable): ColumnSpec[] {
  return sample.columns.map((c) => ({ name: c.name, type: c.type }));
}

function quantile(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function columnStats(col: SampleColumn): FeatureStats {
  if (col.strings || col.type === 'bool') {
    const counts = new Map<string, number>();
    let nulls = 0;
    const n = col.strings ? col.strings.length : col.numbers!.length;
    for (let i = 0; i < n; i++) {
      const raw = col.strings ? col.strings[i] : Number.isNaN(col.numbers![i]!) ? null : col.numbers![i] ? 'true' : 'false';
      if (raw === null || raw === undefined) { nulls++; continue; }
      counts.set(raw, (counts.get(raw) ?? 0) + 1);
    }
    const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP_K).map(([value, count]) => ({ value, count }));
    return { type: col.type, count: n - nulls, nulls, distinct: counts.size, top };
  }
  const xs = col.numbers!;
  const present = new Float64Array(xs.length);
  let k = 0;
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (Number.isNaN(x)) continue;
    present[k++] = x;
    const d = x - mean;
    mean += d / k;
    m2 += d * (x - mean);
  }
  const nulls = xs.length - k;
  if (k === 0) return { type: col.type, count: 0, nulls };
  const sorted = present.subarray(0, k).sort();
  const quantiles: Record<string, number> = {};
  for (const [name, q] of QUANTILES) quantiles[name] = quantile(sorted, q);
  return { type: col.type, count: k, nulls, mean, std: k > 1 ? Math.sqrt(m2 / (k - 1)) : 0, min: sorted[0]!, max: sorted[k - 1]!, quantiles };
}

export function sampleStats(sample: SampleTable, only?: readonly string[]): Record<string, FeatureStats> {
  const out: Record<string, FeatureStats> = {};
  for (const c of sample.columns) if (!only || only.includes(c.name)) out[c.name] = columnStats(c);
  return out;
}

/** Packs numeric columns row-major into a float32 matrix [rows, names.length] (NaN for nulls). */
export function packFloat32(sample: SampleTable, names: readonly string[], maxRows = sample.rows): Float32Array {
  const rows = Math.min(maxRows, sample.rows);
  const cols = names.map((n) => {
    const c = sample.columns.find((x) => x.name === n);
    if (!c) fail(`the sample has no column '${n}'`);
    if (!c.numbers) fail(`sample column '${n}' is ${c.type}; only numeric columns can be packed into a tensor`);
    return c.numbers;
  });
  const out = new Float32Array(rows * names.length);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols.length; j++) out[r * cols.length + j] = cols[j]![r]!;
  return out;
}
