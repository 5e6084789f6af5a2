/**
 * Model inputs gathered row by row instead of column by column. A request's
 * candidates are scattered over the items dataset, so reading each feature
 * column at each candidate misses the cache once per (row, feature); the
 * same values kept row-major (one model input row = one contiguous run)
 * miss about once per row. Built a block of rows at a time, on first touch.
 */
import type { Dataset } from '../api.js';
import { isNumeric } from '../api.js';
import { KeptForSharedRows } from './kept.js';

const BLOCK = 4096;
/** Past this size the matrix is not built (the caller gathers column by column). */
const MAX_BYTES = 128 * 2 ** 20;

/** The dataset's columns of a model input layout (null where the input is a per-request constant); undefined when one is not numeric. */
export function numericColumns(dataset: Dataset, columns: readonly (string | null)[]): (ArrayLike<number> | null)[] | undefined {
  const cols: (ArrayLike<number> | null)[] = [];
  for (const c of columns) {
    if (c === null) {
      cols.push(null);
      continue;
    }
    const col = dataset.column(c);
    if (!isNumeric(col)) return undefined;
    cols.push(col);
  }
  return cols;
}

/** A model input layout as a map key (the same dataset columns in the same slots). */
export function layoutKey(columns: readonly (string | null)[]): string {
  return columns.map((c) => c ?? '\u0000').join('\u0001');
}

const shared = new WeakMap<Dataset, Map<string, ItemMatrix | null>>();

/** Where a gathered input is written: a new array, or a reused one (models/scratch.ts); every element is written. */
type Alloc = (n: number) => Float32Array;
const fresh: Alloc = (n) => new Float32Array(n);

export class ItemMatrix {
  /** Item columns only, `stride` floats per row (a multiple of 16: rows start on a cache line). */
  private readonly packed: Float32Array;
  private readonly filled: Uint8Array;
  /** Model input position of each packed item column. */
  private readonly itemAt: Int32Array;
  private readonly stride: number;
  /** gatherShared's inputs of shared candidates. */
  private readonly kept = new KeptForSharedRows<Float32Array>();

  private constructor(private readonly cols: readonly (ArrayLike<number> | null)[], private readonly rows: number) {
    this.itemAt = Int32Array.from(cols.flatMap((c, j) => (c ? [j] : [])));
    this.stride = Math.max(16, Math.ceil(this.itemAt.length / 16) * 16);
    this.packed = new Float32Array(rows * this.stride);
    this.filled = new Uint8Array(Math.ceil(rows / BLOCK));
  }

  /**
   * The matrix of (dataset, columns), shared by every model that reads that layout (a new
   * version of a model reuses it); undefined when it cannot be built.
   */
  static of(dataset: Dataset, columns: readonly (string | null)[]): ItemMatrix | undefined {
    let byLayout = shared.get(dataset);
    if (!byLayout) shared.set(dataset, (byLayout = new Map()));
    const layout = layoutKey(columns);
    let m = byLayout.get(layout);
    if (m === undefined) {
      m = ItemMatrix.build(dataset, columns) ?? null;
      if (byLayout.size < 16) byLayout.set(layout, m);
    }
    return m ?? undefined;
  }

  /** Undefined when a column is not numeric or the matrix would be too large. */
  static build(dataset: Dataset, columns: readonly (string | null)[]): ItemMatrix | undefined {
    if (dataset.length * Math.ceil(columns.filter((c) => c !== null).length / 16) * 64 > MAX_BYTES) return undefined;
    const cols = numericColumns(dataset, columns);
    return cols && new ItemMatrix(cols, dataset.length);
  }

  private fillBlock(b: number): void {
    const stride = this.stride;
    const from = b * BLOCK;
    const to = Math.min(this.rows, from + BLOCK);
    for (let i = 0; i < this.itemAt.length; i++) {
      const col = this.cols[this.itemAt[i]!]!;
      for (let r = from, at = from * stride + i; r < to; r++, at += stride) this.packed[at] = col[r]!;
    }
    this.filled[b] = 1;
  }

  /**
   * gather() for rows of candidates shared by many requests (rows[k] =
   * base.rows[base.at[k]]): the item columns of all the shared rows are
   * gathered once and kept (keyed on base.rows, which is the same array for
   * every request over them), so a request copies contiguous runs of them and
   * writes its constants.
   */
  gatherShared(base: { readonly rows: Int32Array; readonly at: Int32Array }, constants: ArrayLike<number>, alloc: Alloc = fresh): Float32Array {
    const width = this.cols.length;
    const all = this.kept.get(base.rows, () => this.gather(base.rows, new Float64Array(width)))!;
    const at = base.at;
    const n = at.length;
    const x = alloc(n * width);
    // Copy runs of consecutive shared rows (candidates minus a few excluded: a handful of runs).
    for (let k = 0; k < n; ) {
      let e = k + 1;
      while (e < n && at[e] === at[e - 1]! + 1) e++;
      x.set(all.subarray(at[k]! * width, (at[e - 1]! + 1) * width), k * width);
      k = e;
    }
    for (let j = 0; j < width; j++) {
      if (this.cols[j] !== null) continue;
      const v = constants[j]!;
      for (let k = 0, o = j; k < n; k++, o += width) x[o] = v;
    }
    return x;
  }

  /** The model input [rows.length × width]: item columns of each dataset row, constants where a column is null; in a buffer from `alloc`. */
  gather(rows: Int32Array, constants: ArrayLike<number>, alloc: Alloc = fresh): Float32Array {
    const width = this.cols.length;
    const filled = this.filled;
    for (let k = 0; k < rows.length; k++) {
      const b = (rows[k]! / BLOCK) | 0;
      if (filled[b] === 0) this.fillBlock(b);
    }
    const x = alloc(rows.length * width);
    // Constants first (every row the same), then each row's item values from its one cache line.
    const row = new Float32Array(width);
    for (let j = 0; j < width; j++) if (this.cols[j] === null) row[j] = constants[j]!;
    for (let k = 0; k < rows.length; k++) x.set(row, k * width);
    copyRows(x, this.packed, rows, width, this.stride, this.itemAt);
    return x;
  }
}

function copyRows(x: Float32Array, packed: Float32Array, rows: Int32Array, width: number, stride: number, itemAt: Int32Array): void {
  const n = itemAt.length;
  for (let k = 0, o = 0; k < rows.length; k++, o += width) {
    const base = rows[k]! * stride;
    for (let i = 0; i < n; i++) x[o + itemAt[i]!] = packed[base + i]!;
  }
}
