/**
 * Model inputs gathered row by row instead of column by column. A request's
 * candidates are scattered over the items dataset, so reading each feature
 * column at each candidate misses the cache once per (row, feature); the
 * same values kept row-major (one model input row = one contiguous run)
 * miss about once per row. Built a block of rows at a time, on first touch.
 */
import type { Dataset } from '../api.js';
import { isNumeric } from '../api.js';

const BLOCK = 4096;
/** Past this size the matrix is not built (the caller gathers column by column). */
const MAX_BYTES = 128 * 2 ** 20;

export class ItemMatrix {
  private readonly packed: Float32Array;
  private readonly filled: Uint8Array;

  private constructor(private readonly cols: readonly (ArrayLike<number> | null)[], private readonly rows: number) {
    this.packed = new Float32Array(rows * cols.length);
    this.filled = new Uint8Array(Math.ceil(rows / BLOCK));
  }

  /** Undefined when a column is not numeric or the matrix would be too large. */
  static build(dataset: Dataset, columns: readonly (string | null)[]): ItemMatrix | undefined {
    if (dataset.length * columns.length * 4 > MAX_BYTES) return undefined;
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
    return new ItemMatrix(cols, dataset.length);
  }

  private fillBlock(b: number): void {
    const width = this.cols.length;
    const from = b * BLOCK;
    const to = Math.min(this.rows, from + BLOCK);
    for (let j = 0; j < width; j++) {
      const col = this.cols[j];
      if (!col) continue;
      for (let r = from, at = from * width + j; r < to; r++, at += width) this.packed[at] = col[r]!;
    }
    this.filled[b] = 1;
  }

  /** The model input [rows.length × width]: item columns of each dataset row, constants where a column is null. */
  gather(rows: Int32Array, constants: ArrayLike<number>): Float32Array {
    const width = this.cols.length;
    const filled = this.filled;
    for (let k = 0; k < rows.length; k++) {
      const b = (rows[k]! / BLOCK) | 0;
      if (filled[b] === 0) this.fillBlock(b);
    }
    const x = new Float32Array(rows.length * width);
    copyRows(x, this.packed, rows, width);
    for (let j = 0; j < width; j++) {
      if (this.cols[j] !== null) continue;
      const v = constants[j]!;
      for (let at = j; at < x.length; at += width) x[at] = v;
    }
    return x;
  }
}

function copyRows(x: Float32Array, packed: Float32Array, rows: Int32Array, width: number): void {
  for (let k = 0, o = 0; k < rows.length; k++, o += width) {
    const base = rows[k]! * width;
    for (let c = 0; c < width; c++) x[o + c] = packed[base + c]!;
  }
}
